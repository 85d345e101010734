/* SPDX-License-Identifier: MIT */
/* src/util/container-id.c: the container runtime and id of cgroup paths as
 * Docker, containerd, CRI-O and Podman name them (systemd and cgroupfs
 * drivers), and the paths that name no container. Ids written out here. */
#include "alumet-test.h"

#include <errno.h>
#include <stdio.h>

#include "util/container-id.h"

#define ID "4c1a7e0b9f2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90"
#define POD                                                                                        \
    "/kubepods.slice/kubepods-burstable.slice/"                                                    \
    "kubepods-burstable-pod5f32d849_6210_4886_a48d_e0d90e1d0206.slice"

static void expect(const char *cpath, const char *runtime)
{
    struct container_id c = {0};
    int r = container_id_from_cgroup(cpath, &c);
    if (!runtime) {
        if (r == 0)
            print_error("%s: got %s %s\n", cpath, c.runtime, c.id);
        assert_int_equal(r, -ENOENT);
        return;
    }
    if (r != 0)
        print_error("%s: no container\n", cpath);
    assert_int_equal(r, 0);
    assert_string_equal(c.runtime, runtime);
    assert_string_equal(c.id, ID);
}

static void test_systemd_driver(void **state)
{
    (void)state;
    expect("/system.slice/docker-" ID ".scope", "docker");
    expect(POD "/cri-containerd-" ID ".scope", "containerd");
    expect(POD "/crio-" ID ".scope", "crio");
    expect("/machine.slice/libpod-" ID ".scope", "libpod");
    /* a sub-cgroup of the container keeps its id */
    expect("/machine.slice/libpod-" ID ".scope/container", "libpod");
    expect("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope",
           "libpod");
}

static void test_cgroupfs_driver(void **state)
{
    (void)state;
    expect("/docker/" ID, "docker");
    expect("/libpod_parent/libpod-" ID, "libpod");
    expect("/kubepods/burstable/pod5f32d849-6210-4886-a48d-e0d90e1d0206/" ID, "cri");
    expect("/kubepods/pod5f32d849-6210-4886-a48d-e0d90e1d0206/" ID, "cri");
}

static void test_not_containers(void **state)
{
    (void)state;
    expect("/", NULL);
    expect("", NULL);
    expect(POD, NULL);
    expect("/system.slice/docker.service", NULL);
    expect("/docker", NULL);
    /* monitors, not containers */
    expect(POD "/crio-conmon-" ID ".scope", NULL);
    expect("/machine.slice/libpod-conmon-" ID ".scope", NULL);
    /* ids of the wrong length or case, or a hex name outside a container parent */
    expect("/system.slice/docker-" ID "0.scope", NULL);
    expect("/system.slice/docker-4C1A7E0B9F2D3E5A6B7C8D9E0F1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D7E8F90"
           ".scope",
           NULL);
    expect("/user.slice/" ID, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_systemd_driver),
        cmocka_unit_test(test_cgroupfs_driver),
        cmocka_unit_test(test_not_containers),
    };
    return alumet_run_tests(tests);
}
