/* SPDX-License-Identifier: MIT */
/* Tests of src/util/cgroup-owner: pods, Slurm jobs, containers and virtual
 * machines from the cgroup paths that their managers create. */
#include "alumet-test.h"
#include "util/cgroup-owner.h"

#define UID_ "00b506dc_87ee_462c_880d_3e41d0dacd0c"
#define UID "00b506dc-87ee-462c-880d-3e41d0dacd0c"
#define CID "31b9e6de0955a58356e287671b4e6ed8ede03e026b66e90bd2504baf471e5ea6"

static void test_pods_and_jobs(void **state)
{
    (void)state;
    struct cgroup_owner o;
    assert_true(cgroup_owner_from_path("/kubepods.slice/kubepods-besteffort.slice/"
                                       "kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" CID
                                       ".scope",
                                       &o));
    assert_string_equal(o.pod_uid, UID);
    assert_true(o.has_container);
    assert_string_equal(o.container.id, CID);
    assert_string_equal(o.container.runtime, "containerd");
    assert_string_equal(o.job_id, "");
    assert_string_equal(o.vm_name, "");

    assert_true(cgroup_owner_from_path("/kubepods/besteffort/pod" UID "/" CID, &o));
    assert_string_equal(o.pod_uid, UID);
    assert_string_equal(o.container.runtime, "cri");

    assert_true(
        cgroup_owner_from_path("/system.slice/slurmstepd.scope/job_10707/step_2/user/task_0", &o));
    assert_string_equal(o.job_id, "10707");
    assert_false(o.has_container);
    assert_true(cgroup_owner_from_path("/slurm/uid_1000/job_42/step_batch", &o));
    assert_string_equal(o.job_id, "42");
    assert_true(cgroup_owner_from_path("/system.slice/n1_slurmstepd.scope/job_7", &o));
    assert_string_equal(o.job_id, "7");

    /* not owners */
    assert_false(cgroup_owner_from_path("/", &o));
    assert_false(cgroup_owner_from_path("/system.slice/job_12.service", &o));
    assert_false(cgroup_owner_from_path("/kubepods.slice/kubepods-pods.slice", &o));
    assert_false(cgroup_owner_from_path("/user.slice/pod" UID "x.slice", &o));
    assert_string_equal(o.pod_uid, "");
}

static void test_vms(void **state)
{
    (void)state;
    struct cgroup_owner o;
    assert_true(cgroup_owner_from_path("/machine.slice/machine-qemu\\x2d1\\x2dmyvm.scope", &o));
    assert_string_equal(o.vm_name, "myvm");
    /* a '-' in the name is escaped too; sub-cgroups keep the VM */
    assert_true(cgroup_owner_from_path(
        "/machine.slice/machine-qemu\\x2d12\\x2dweb\\x2dfront.scope/libvirt/vcpu0", &o));
    assert_string_equal(o.vm_name, "web-front");
    assert_true(cgroup_owner_from_path("/machine/qemu-3-db.libvirt-qemu/emulator", &o));
    assert_string_equal(o.vm_name, "db");
    assert_true(cgroup_owner_from_path("/machine/old.libvirt-qemu", &o));
    assert_string_equal(o.vm_name, "old");
    assert_true(cgroup_owner_from_path("/machine.slice/machine-lxc\\x2dbox.scope", &o));
    assert_string_equal(o.vm_name, "box");
    /* a machined container of systemd-nspawn is not a VM */
    assert_false(cgroup_owner_from_path("/machine.slice/machine-debian.scope", &o));
    assert_false(cgroup_owner_from_path("/machine.slice/machine-qemu\\x2d1\\x2d.scope", &o));

    char buf[8];
    assert_true(cgroup_owner_vm("qemu-1-longname.libvirt-qemu", 28, buf, sizeof(buf)));
    assert_string_equal(buf, "longnam");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pods_and_jobs),
        cmocka_unit_test(test_vms),
    };
    return alumet_run_tests(tests);
}
