/* SPDX-License-Identifier: MIT */
/* Tests of the k8s plugin's pod parts: the pod uid of cgroup paths (systemd
 * and cgroupfs drivers, pods and containers, what is not a pod) and the
 * PodList reader (the fields read, pods of other nodes dropped, what is not
 * a PodList). The expected values are written out by hand. The agent against
 * a fake API server is in test_k8s_api_e2e.py. */
#include <errno.h>
#include <string.h>

#include "alumet-test.h"
#include "k8s.h"

#define UID "5f32d849-6210-4886-a48d-e0d90e1d0206"
#define UIDU "5f32d849_6210_4886_a48d_e0d90e1d0206"
#define CID "4c1a7e0b9f2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90"

static void expect_uid(const char *cpath, bool containers, const char *want)
{
    char buf[80] = "";
    ssize_t r = k8s_pod_uid(cpath, containers, buf, sizeof(buf));
    if (!want) {
        if (r != -ENOENT)
            print_error("%s: got uid '%s'\n", cpath, buf);
        assert_int_equal(r, -ENOENT);
        return;
    }
    if (r < 0)
        print_error("%s: no uid\n", cpath);
    assert_int_equal(r, (ssize_t)strlen(want));
    assert_string_equal(buf, want);
}

static void test_uid_systemd(void **state)
{
    (void)state;
    const char *pod =
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU ".slice";
    expect_uid(pod, false, UID);
    expect_uid(pod, true, UID);
    expect_uid("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU ".slice",
               false, UID);
    /* guaranteed QoS: no QoS slice */
    expect_uid("/kubepods.slice/kubepods-pod" UIDU ".slice", false, UID);
    /* containers: only with annotate_containers */
    char c[512];
    snprintf(c, sizeof(c), "%s/cri-containerd-" CID ".scope", pod);
    expect_uid(c, false, NULL);
    expect_uid(c, true, UID);
    snprintf(c, sizeof(c), "%s/crio-" CID ".scope", pod);
    expect_uid(c, true, UID);
    /* a static pod's uid is its config hash: 32 hex digits */
    expect_uid("/kubepods.slice/kubepods-burstable.slice/"
               "kubepods-burstable-pod6c2e7f0a1b2c3d4e5f60718293a4b5c6.slice",
               false, "6c2e7f0a1b2c3d4e5f60718293a4b5c6");
}

static void test_uid_cgroupfs(void **state)
{
    (void)state;
    expect_uid("/kubepods/burstable/pod" UID, false, UID);
    expect_uid("/kubepods/pod" UID, false, UID);
    expect_uid("/kubepods/besteffort/pod" UID "/" CID, false, NULL);
    expect_uid("/kubepods/besteffort/pod" UID "/" CID, true, UID);
}

static void test_uid_not_pods(void **state)
{
    (void)state;
    expect_uid("/", false, NULL);
    expect_uid("/", true, NULL);
    expect_uid("/kubepods.slice", true, NULL);
    expect_uid("/kubepods.slice/kubepods-burstable.slice", true, NULL);
    expect_uid("/kubepods/burstable", true, NULL);
    expect_uid("/system.slice/pods.service", true, NULL);
    /* too short, not hexadecimal, not a kubepods slice */
    expect_uid("/kubepods.slice/kubepods-pod1234.slice", true, NULL);
    expect_uid("/kubepods.slice/kubepods-podzzzzzzzz_6210_4886_a48d_e0d90e1d0206.slice", true,
               NULL);
    expect_uid("/system.slice/other-pod" UIDU ".slice", true, NULL);
    expect_uid("/user.slice/mypod" UID, true, NULL);
}

static const char podlist[] =
    "{\"kind\": \"PodList\", \"apiVersion\": \"v1\", \"metadata\": {\"resourceVersion\": \"12\"},\n"
    " \"items\": [\n"
    "  {\"metadata\": {\"name\": \"web-7d9f\", \"namespace\": \"shop\", \"uid\": \"" UID "\",\n"
    "                \"annotations\": {\"note\": \"a \\\"quoted\\\" \\\\ \\u00e9 value\"}},\n"
    "   \"spec\": {\"containers\": [{\"name\": \"web\", \"ports\": [80, 443]}],\n"
    "            \"nodeName\": \"node-7\", \"hostNetwork\": false, \"priority\": -1.5e3},\n"
    "   \"status\": {\"podIP\": null}},\n"
    "  {\"metadata\": {\"name\": \"far\", \"namespace\": \"shop\", \"uid\": \"u2\"},\n"
    "   \"spec\": {\"nodeName\": \"node-8\"}},\n"
    "  {\"metadata\": {\"name\": \"pending\", \"namespace\": \"shop\", \"uid\": \"u3\"},\n"
    "   \"spec\": {}},\n"
    "  {\"metadata\": {\"name\": \"db-0\", \"namespace\": \"data\", \"uid\": \"u4\"},\n"
    "   \"spec\": {\"nodeName\": \"node-7\"}}\n"
    " ]}\n";

static void test_podlist(void **state)
{
    (void)state;
    struct k8s_registry reg = {0};
    assert_int_equal(k8s_podlist_parse(podlist, strlen(podlist), "node-7", &reg), 0);
    assert_int_equal(reg.n, 2);
    const struct k8s_pod *p = k8s_registry_find(&reg, UID);
    assert_non_null(p);
    assert_string_equal(p->name, "web-7d9f");
    assert_string_equal(p->namespace, "shop");
    assert_string_equal(p->node, "node-7");
    p = k8s_registry_find(&reg, "u4");
    assert_non_null(p);
    assert_string_equal(p->name, "db-0");
    assert_string_equal(p->namespace, "data");
    assert_null(k8s_registry_find(&reg, "u2"));
    assert_null(k8s_registry_find(&reg, "u3"));
    k8s_registry_done(&reg);

    /* empty list */
    static const char empty[] = "{\"kind\":\"PodList\",\"items\":[]}";
    assert_int_equal(k8s_podlist_parse(empty, strlen(empty), "node-7", &reg), 0);
    assert_int_equal(reg.n, 0);
    k8s_registry_done(&reg);
}

static void test_podlist_bad(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "<html>502 Bad Gateway</html>",
        "{\"kind\":\"Status\",\"code\":401}",
        "{\"items\": {}}",
        "{\"items\": [ {\"metadata\": {\"uid\": \"x\"} ]}",
        "{\"items\": []} trailing",
        "{\"items\": [\"unterminated]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct k8s_registry reg = {0};
        int r = k8s_podlist_parse(bad[i], strlen(bad[i]), "node-7", &reg);
        if (r != -EBADMSG)
            print_error("accepted: %s\n", bad[i]);
        assert_int_equal(r, -EBADMSG);
        assert_int_equal(reg.n, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uid_systemd),  cmocka_unit_test(test_uid_cgroupfs),
        cmocka_unit_test(test_uid_not_pods), cmocka_unit_test(test_podlist),
        cmocka_unit_test(test_podlist_bad),
    };
    return alumet_run_tests(tests);
}
