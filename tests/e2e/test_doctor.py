# SPDX-License-Identifier: MIT
"""alumet-agent doctor: every state of every check on fixture trees (hidden
option --root: a tree holding proc/ and sys/), the text and JSON outputs,
the exit status, and this machine (no RAPL: the CPU energy is ESTIMATED
through energy-estimation-tdp with its parameters named)."""

import json
import os
import shutil
import socket
import subprocess

from e2e_common import AgentTestCase, main

FIXTURES = os.environ.get("ALUMET_E2E_FIXTURES", "")
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NVML_STUB = os.environ.get("ALUMET_E2E_NVML_STUB", "")

# CapEff bits
CAP_PERFMON = 1 << 38
CAP_SYS_PTRACE = 1 << 19
CAP_SYS_NICE = 1 << 23
CAP_SYS_RESOURCE = 1 << 24

POWER_PMU = {
    "sys/devices/power/type": "23\n",
    "sys/devices/power/cpumask": "0\n",
    "sys/devices/power/events/energy-pkg": "event=0x02\n",
}
POWERCAP = {"sys/class/powercap/intel-rapl:0/energy_uj": "123456\n"}


class DoctorCase(AgentTestCase):
    def tree(self, files, paranoid=2, cap_eff=0, groups=""):
        """A fixture tree in the temp dir: files {relative path: text}."""
        root = self.path("root")
        base = {
            "proc/sys/kernel/perf_event_paranoid": f"{paranoid}\n",
            "proc/self/status": f"Name:\tdoctor\nGroups:\t{groups}\nCapEff:\t{cap_eff:016x}\n",
            "sys/devices/system/cpu/online": "0-3\n",
        }
        base.update(files)
        for rel, text in base.items():
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if text is None:
                os.makedirs(p, exist_ok=True)
                continue
            with open(p, "w", encoding="utf-8") as f:
                f.write(text)
        return root

    def doctor(self, config, root, *extra, code=None):
        self.write_config(config)
        res = self.agent("doctor", "--json", "--root", root, *extra)
        if code is not None:
            self.assertEqual(res.returncode, code, res)
        report = json.loads(res.stdout)
        return report, {c["id"]: c for c in report["checks"]}

    def assert_check(self, checks, cid, status, why=None, fix=None, required=None):
        c = checks[cid]
        self.assertEqual(c["status"], status, c)
        if why is not None:
            self.assertIn(why, c["why"])
        if fix is not None:
            self.assertIn(fix, c["fix"])
        if required is not None:
            self.assertEqual(c["required"], required, c)


RAPL_TDP = '[plugins.rapl]\n[plugins.energy-estimation-tdp]\ntdp = 42.0\nnb_cpu = 7.0\n' \
           '[plugins.procfs]\n'
RAPL_ONLY = "[plugins.rapl]\n"


class TestRapl(DoctorCase):
    def test_perf_measured_with_paranoid_0(self):
        root = self.tree(POWER_PMU, paranoid=0)
        rep, c = self.doctor(RAPL_ONLY, root, code=0)
        self.assertTrue(rep["ok"])
        self.assert_check(c, "rapl-perf", "MEASURED",
                          "perf PMU 'power' (type 23) with event=0x02; perf_event_paranoid 0")
        self.assert_check(c, "cpu-energy", "MEASURED", required=True)

    def test_perf_measured_with_cap_perfmon(self):
        root = self.tree(POWER_PMU, paranoid=2, cap_eff=CAP_PERFMON)
        _, c = self.doctor(RAPL_ONLY, root, code=0)
        self.assert_check(c, "rapl-perf", "MEASURED", "perf_event_paranoid 2, CAP_PERFMON")

    def test_perf_unavailable_paranoid(self):
        root = self.tree(POWER_PMU, paranoid=2)
        _, c = self.doctor(RAPL_ONLY, root, code=1)
        self.assert_check(
            c, "rapl-perf", "UNAVAILABLE",
            "needs kernel.perf_event_paranoid <= 0 "
            f"({root}/proc/sys/kernel/perf_event_paranoid is 2) or CAP_PERFMON",
            "sudo sysctl -w kernel.perf_event_paranoid=0")
        self.assertIn('sudo setcap cap_perfmon=ep "$(command -v alumet-agent)"',
                      c["rapl-perf"]["fix"])
        self.assert_check(c, "cpu-energy", "UNAVAILABLE", required=True)

    def test_perf_no_pmu_and_powercap_measured(self):
        root = self.tree(POWERCAP)
        _, c = self.doctor(RAPL_ONLY, root, code=0)
        self.assert_check(c, "rapl-perf", "UNAVAILABLE",
                          f"no 'power' perf PMU: {root}/sys/devices/power/type: ENOENT")
        self.assert_check(c, "rapl-powercap", "MEASURED",
                          f"{root}/sys/class/powercap/intel-rapl:0/energy_uj is readable")
        self.assert_check(c, "cpu-energy", "MEASURED")

    def test_no_perf_events_option(self):
        root = self.tree(POWER_PMU, paranoid=0)
        _, c = self.doctor(RAPL_ONLY + "no_perf_events = true\n", root, code=1)
        self.assert_check(c, "rapl-perf", "UNAVAILABLE",
                          "turned off by plugins.rapl.no_perf_events = true")

    def test_powercap_missing(self):
        root = self.tree({})
        _, c = self.doctor(RAPL_ONLY, root, code=1)
        self.assert_check(c, "rapl-powercap", "UNAVAILABLE",
                          f"{root}/sys/class/powercap/intel-rapl:0/energy_uj: ENOENT",
                          "sudo modprobe intel_rapl_msr")

    def test_powercap_not_readable(self):
        root = self.tree(POWERCAP)
        os.chmod(os.path.join(root, "sys/class/powercap/intel-rapl:0/energy_uj"), 0o400)
        self.write_config(RAPL_ONLY)
        argv = [os.environ["ALUMET_E2E_AGENT"], "doctor", "--json", "--root", root]
        if os.geteuid() == 0:
            if not shutil.which("setpriv"):
                self.skipTest("running as root and no setpriv to drop to another user")
            # the file stays root's; the agent runs as nobody
            os.chmod(self.dir, 0o755)
            os.chmod(self.path("alumet-config.toml"), 0o644)
            argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "--inh-caps=-all"] + argv
        p = subprocess.run(argv, cwd=self.dir, capture_output=True, text=True, timeout=30)
        if "Permission denied" in p.stderr and not p.stdout:
            self.skipTest(f"nobody cannot run the agent here: {p.stderr.strip()}")
        c = {x["id"]: x for x in json.loads(p.stdout)["checks"]}
        self.assert_check(c, "rapl-powercap", "UNAVAILABLE",
                          f"{root}/sys/class/powercap/intel-rapl:0/energy_uj: EACCES",
                          "AmbientCapabilities=CAP_DAC_READ_SEARCH")
        self.assertEqual(p.returncode, 1)


class TestCpuEnergy(DoctorCase):
    def test_estimated_with_parameters(self):
        root = self.tree({})
        rep, c = self.doctor(RAPL_TDP, root, code=0)
        self.assert_check(
            c, "cpu-energy", "ESTIMATED",
            "estimated by the energy-estimation-tdp plugin from the CPU time: tdp = 42 W "
            "(plugins.energy-estimation-tdp.tdp), nb_cpu = 7 "
            "(plugins.energy-estimation-tdp.nb_cpu)", required=True)
        self.assertEqual(c["cpu-energy"]["plugin"], "energy-estimation-tdp")

    def test_estimated_nb_cpu_default(self):
        root = self.tree({})
        _, c = self.doctor("[plugins.energy-estimation-tdp]\ntdp = 65\n[plugins.procfs]\n", root,
                           code=0)
        self.assert_check(c, "cpu-energy", "ESTIMATED",
                          "tdp = 65 W (plugins.energy-estimation-tdp.tdp), nb_cpu = 4 (the "
                          "CPUs online here; plugins.energy-estimation-tdp.nb_cpu is not set)")

    def test_estimate_without_procfs(self):
        root = self.tree({})
        _, c = self.doctor("[plugins.energy-estimation-tdp]\ntdp = 65\n", root, code=1)
        self.assert_check(c, "cpu-energy", "UNAVAILABLE",
                          "needs kernel_cpu_time from the procfs plugin",
                          "enable [plugins.procfs] and [plugins.procfs.kernel]")

    def test_nothing_enabled_is_not_required(self):
        root = self.tree({})
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assert_check(c, "cpu-energy", "UNAVAILABLE", required=False)


class TestPerf(DoctorCase):
    def test_software_and_hardware(self):
        root = self.tree({"sys/devices/cpu/type": "4\n"}, paranoid=2)
        _, c = self.doctor("[plugins.perf]\nenabled = true\n", root, code=0)
        self.assert_check(c, "perf-software", "MEASURED", "perf_event_paranoid 2", required=True)
        self.assert_check(c, "perf-hardware", "MEASURED", "CPU PMU (type 4)", required=True)

    def test_paranoid_3_and_no_pmu(self):
        root = self.tree({}, paranoid=3)
        _, c = self.doctor("[plugins.perf]\n", root, code=1)
        self.assert_check(c, "perf-software", "UNAVAILABLE",
                          f"{root}/proc/sys/kernel/perf_event_paranoid is 3",
                          "sudo sysctl -w kernel.perf_event_paranoid=2")
        # not asked for explicitly: a missing PMU does not fail doctor
        self.assert_check(c, "perf-hardware", "UNAVAILABLE",
                          f"no CPU PMU: {root}/sys/bus/event_source/devices/cpu/type: ENOENT",
                          "QEMU: -cpu host", required=False)

    def test_system_wide(self):
        root = self.tree({}, paranoid=1)
        _, c = self.doctor("[plugins.perf]\nsystem_wide = true\n", root, code=1)
        self.assert_check(c, "perf-system-wide", "UNAVAILABLE",
                          "plugins.perf.system_wide = true needs kernel.perf_event_paranoid <= 0",
                          "sudo sysctl -w kernel.perf_event_paranoid=0", required=True)
        root = self.tree({}, paranoid=1, cap_eff=CAP_PERFMON)
        _, c = self.doctor("[plugins.perf]\nsystem_wide = true\n", root, code=0)
        self.assert_check(c, "perf-system-wide", "MEASURED", "CAP_PERFMON")


class TestCgroups(DoctorCase):
    def fixture(self, name):
        dst = self.path("root")
        shutil.copytree(os.path.join(FIXTURES, "cgroup", name), dst)
        return dst

    def test_v2(self):
        root = self.fixture("v2")
        _, c = self.doctor("[plugins.cgroups]\n", root, code=0)
        self.assert_check(c, "cgroups", "MEASURED",
                          f"cgroup v2 (unified) in {root}/proc/self/mountinfo", required=True)

    def test_hybrid(self):
        root = self.fixture("hybrid")
        _, c = self.doctor("[plugins.cgroups]\n", root, code=0)
        self.assert_check(c, "cgroups", "MEASURED", "hybrid: 3 cgroup v1 hierarchies and cgroup v2")

    def test_v1(self):
        root = self.tree({"proc/self/mounts": "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n"
                                              "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n"})
        _, c = self.doctor("[plugins.cgroups]\n", root, code=0)
        self.assert_check(c, "cgroups", "MEASURED", "cgroup v1: 2 hierarchies")

    def test_none(self):
        root = self.tree({"proc/self/mounts": "proc /proc proc rw 0 0\n"})
        _, c = self.doctor("[plugins.cgroups]\n", root, code=1)
        self.assert_check(c, "cgroups", "UNAVAILABLE", "no cgroup or cgroup2 filesystem",
                          "sudo mount -t cgroup2 none /sys/fs/cgroup")

    def test_slurm(self):
        mounts = {"proc/self/mounts": "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"}
        root = self.tree(mounts)
        _, c = self.doctor("[plugins.slurm]\n", root, code=0)
        self.assert_check(c, "slurm", "MEASURED", "no Slurm job cgroup now", required=True)
        os.makedirs(os.path.join(root, "sys/fs/cgroup/system.slice/slurmstepd.scope"))
        _, c = self.doctor("[plugins.slurm]\n", root, code=0)
        self.assert_check(c, "slurm", "MEASURED", "Slurm's job cgroups are under "
                          f"{root}/sys/fs/cgroup/system.slice/slurmstepd.scope")


class TestHidepid(DoctorCase):
    MOUNTS = "proc /proc proc rw,nosuid,hidepid=invisible,gid=1234 0 0\n"

    def test_hidden(self):
        root = self.tree({"proc/self/mounts": self.MOUNTS})
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assert_check(c, "proc-hidepid", "UNAVAILABLE",
                          "/proc is mounted with hidepid=invisible",
                          "add the agent's user to the group 1234 of the mount (gid=1234)",
                          required=False)
        self.assertIn("AmbientCapabilities=CAP_SYS_PTRACE", c["proc-hidepid"]["fix"])

    def test_ptrace_or_group(self):
        root = self.tree({"proc/self/mounts": self.MOUNTS}, cap_eff=CAP_SYS_PTRACE)
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assert_check(c, "proc-hidepid", "MEASURED", "CAP_SYS_PTRACE shows every process")
        shutil.rmtree(root)
        root = self.tree({"proc/self/mounts": self.MOUNTS}, groups="100 1234")
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assert_check(c, "proc-hidepid", "MEASURED", "in its group gid=1234")

    def test_upstream_fixture(self):
        root = os.path.join(FIXTURES, "procfs", "hidepid", "t0")
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assert_check(c, "proc-hidepid", "UNAVAILABLE", "hidepid=invisible")


class TestOpenFiles(DoctorCase):
    """procfs keeps half the limit of open files, two per process: the
    processes beyond are read by path (never UNAVAILABLE: every process is
    still measured)."""

    @staticmethod
    def limits(soft, hard):
        return ("Limit                     Soft Limit           Hard Limit           Units     \n"
                "Max cpu time              unlimited            unlimited            seconds   \n"
                f"Max open files            {soft:<21}{hard:<21}files     \n")

    def procs(self, n, soft, hard, nr_open="1048576\n", cap_eff=0):
        shutil.rmtree(self.path("root"), ignore_errors=True)
        files = {f"proc/{pid}": None for pid in range(100, 100 + n)}
        files["proc/self/limits"] = self.limits(soft, hard)
        files["proc/sys/fs/nr_open"] = nr_open
        return self.tree(files, cap_eff=cap_eff)

    def test_beyond_the_hard_limit(self):
        root = self.procs(10, 16, 16)
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assert_check(c, "proc-open-files", "MEASURED",
                          "10 processes; the hard limit of open files is 16 and this process "
                          "has no CAP_SYS_RESOURCE: procfs keeps 4 of them open (half the limit, "
                          "two descriptors each) and reads the other 6 by path",
                          "raise the hard limit of open files to 1024 (ulimit -Hn 1024 before "
                          "starting the agent, LimitNOFILE=1024 in its systemd unit) or grant "
                          "CAP_SYS_RESOURCE", required=False)
        self.assertNotIn("fs.nr_open", c["proc-open-files"]["fix"])

    def test_nr_open_too_low(self):
        root = self.procs(10, 16, 16, nr_open="40\n")
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assertIn("and fs.nr_open (40) above it: sysctl -w fs.nr_open=1024",
                      c["proc-open-files"]["fix"])

    def test_raised_with_cap_sys_resource(self):
        root = self.procs(10, 16, 16, cap_eff=CAP_SYS_RESOURCE)
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assert_check(c, "proc-open-files", "MEASURED",
                          "10 processes; limit of open files 1024 (hard 16, raised with "
                          "CAP_SYS_RESOURCE): procfs keeps every one open", "")
        # capped by fs.nr_open: 5 processes of 10 kept
        root = self.procs(10, 16, 16, nr_open="20\n", cap_eff=CAP_SYS_RESOURCE)
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assert_check(c, "proc-open-files", "MEASURED",
                          "10 processes; the hard limit of open files is 20 (fs.nr_open): "
                          "procfs keeps 5 of them open")

    def test_enough_or_unlimited(self):
        root = self.procs(10, 1024, 524288)
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assert_check(c, "proc-open-files", "MEASURED",
                          "10 processes; limit of open files 524288 (hard 524288): procfs keeps "
                          "every one open", "")
        root = self.procs(3, "unlimited", "unlimited")
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assert_check(c, "proc-open-files", "MEASURED",
                          "3 processes; no hard limit of open files")

    def test_unreadable_and_off(self):
        root = self.tree({"proc/1": None})
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assert_check(c, "proc-open-files", "MEASURED",
                          f"cannot read {root}/proc/self/limits: ENOENT")
        _, c = self.doctor("[plugins.procfs]\nenabled = false\n", root, code=0)
        self.assertNotIn("proc-open-files", c)


class TestRealtime(DoctorCase):
    def test_without_cap_sys_nice(self):
        root = self.tree({}, cap_eff=CAP_SYS_PTRACE)
        # never needed: doctor still succeeds
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assert_check(c, "realtime", "UNAVAILABLE",
                          "this process has no CAP_SYS_NICE: the sources polled every 3 ms or "
                          "faster would run at the normal priority",
                          'sudo setcap cap_sys_nice+ep "$(command -v alumet-agent)"',
                          required=False)

    def test_with_cap_sys_nice_or_turned_off(self):
        root = self.tree({}, cap_eff=CAP_SYS_NICE)
        _, c = self.doctor("[plugins.procfs]\n", root, code=0)
        self.assertEqual(c["realtime"]["why"], "CAP_SYS_NICE: the sources polled every 3 ms or "
                         "faster run at the real-time priority SCHED_FIFO 55")
        self.assertEqual(c["realtime"]["status"], "MEASURED")
        shutil.rmtree(root)
        root = self.tree({})
        self.write_config("[plugins.procfs]\n")
        res = self.agent("--priority-worker-threads", "0", "doctor", "--json", "--root", root)
        c = {c["id"]: c for c in json.loads(res.stdout)["checks"]}
        self.assert_check(c, "realtime", "MEASURED",
                          "real-time priority is turned off (--priority-worker-threads 0)")


class TestK8s(DoctorCase):
    def test_token_and_api(self):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        self.addCleanup(srv.close)
        port = srv.getsockname()[1]
        token = "var/run/secrets/kubernetes.io/serviceaccount/token"
        root = self.tree({token: "secret\n",
                          "proc/self/mounts": "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"})
        cfg = f'[plugins.k8s]\nenabled = true\nk8s_api_url = "http://127.0.0.1:{port}"\n'
        _, c = self.doctor(cfg, root, code=0)
        self.assert_check(c, "k8s-token", "MEASURED", f"{root}/{token} is readable")
        self.assert_check(c, "k8s-api", "MEASURED", f"connect(127.0.0.1:{port}) succeeded")
        srv.close()
        os.remove(os.path.join(root, token))
        _, c = self.doctor(cfg, root, code=1)
        self.assert_check(c, "k8s-token", "UNAVAILABLE", f"{root}/{token}: ENOENT",
                          'plugins.k8s.token_retrieval = "kubectl"')
        self.assert_check(c, "k8s-api", "UNAVAILABLE", f"connect(127.0.0.1:{port})",
                          "set plugins.k8s.k8s_api_url")
        self.assertIn("ECONNREFUSED", c["k8s-api"]["why"])


class TestGpuAndPort(DoctorCase):
    def test_gpu_libraries(self):
        root = self.tree({})
        _, c = self.doctor('[plugins.nvml]\nenabled = true\nlibrary = "libnope-ml.so.9"\n', root,
                           code=1)
        self.assert_check(c, "nvml", "UNAVAILABLE", 'dlopen("libnope-ml.so.9"): libnope-ml.so.9: '
                          "cannot open shared object file", "set plugins.nvml.library",
                          required=True)
        # in the default config (not enabled on purpose), a missing GPU is fine
        _, c = self.doctor('[plugins.amd-gpu]\nlibrary = "libnope.so"\n', root, code=0)
        self.assert_check(c, "amd-gpu", "UNAVAILABLE", required=False)
        if NVML_STUB:
            _, c = self.doctor(f'[plugins.nvml]\nenabled = true\nlibrary = "{NVML_STUB}"\n',
                               root, code=0)
            self.assert_check(c, "nvml", "MEASURED", f'dlopen("{NVML_STUB}") succeeded')

    def test_jetson_and_grace(self):
        # fixture trees of an AGX Orin and a GH200 (their symbolic links stay inside)
        jetson = os.path.join(FIXTURES, "jetson", "agx-orin")
        _, c = self.doctor("[plugins.jetson]\nenabled = true\n", jetson, code=0)
        self.assert_check(c, "jetson", "MEASURED", "2 INA3221 power monitors in "
                          f"{jetson}/sys/bus/i2c/drivers/ina3221", required=True)
        grace = os.path.join(FIXTURES, "grace-hopper", "gh200")
        _, c = self.doctor('[plugins.grace-hopper]\nroot_path = "/sys/class/hwmon"\n', grace,
                           code=0)
        self.assert_check(c, "grace-hopper", "MEASURED",
                          f"4 Grace power meters in {grace}/sys/class/hwmon", required=False)
        root = self.tree({})
        _, c = self.doctor("[plugins.jetson]\nenabled = true\n[plugins.grace-hopper]\n", root,
                           code=1)
        self.assert_check(c, "jetson", "UNAVAILABLE", "not an NVIDIA Jetson",
                          "plugins.jetson.enabled = false", required=True)
        self.assert_check(c, "grace-hopper", "UNAVAILABLE", f"{root}/sys/class/hwmon: ENOENT",
                          "plugins.grace-hopper.enabled = false", required=False)
        _, c = self.doctor('[plugins.grace-hopper]\nroot_path = "/srv/hwmon"\n', root, code=0)
        self.assert_check(c, "grace-hopper", "UNAVAILABLE", f"{root}/srv/hwmon: ENOENT",
                          "set plugins.grace-hopper.root_path")

    def test_exporter_port(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        port = busy.getsockname()[1]
        root = self.tree({})
        cfg = f'[plugins.prometheus-exporter]\nhost = "127.0.0.1"\nport = {port}\n'
        rep, c = self.doctor(cfg, root, code=1)
        self.assertFalse(rep["ok"])
        self.assert_check(c, "exporter-port", "UNAVAILABLE",
                          f"bind(127.0.0.1:{port}) (plugins.prometheus-exporter.host, .port): "
                          "EADDRINUSE", f"sudo ss -ltnp 'sport = :{port}'", required=True)
        busy.close()
        _, c = self.doctor(cfg, root, code=0)
        self.assert_check(c, "exporter-port", "MEASURED", f"127.0.0.1:{port} is free")

    def test_relay_ports(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        port = busy.getsockname()[1]
        root = self.tree({})
        # the server's port in use: required, fails; the client reaches
        # what listens there (the busy socket stands for a relay server)
        cfg = (f'[plugins.relay-server]\naddress = "127.0.0.1:{port}"\n'
               f'[plugins.relay-client]\nrelay_server = "127.0.0.1:{port}"\n')
        rep, c = self.doctor(cfg, root, code=1)
        self.assert_check(c, "relay-server-port", "UNAVAILABLE",
                          f"bind(127.0.0.1:{port}) (plugins.relay-server.address): EADDRINUSE",
                          f"sudo ss -ltnp 'sport = :{port}'", required=True)
        self.assert_check(c, "relay-server-reachable", "MEASURED",
                          f"connect(127.0.0.1:{port}) succeeded (plugins.relay-client.relay_server)")
        busy.close()
        # nothing listens: the server's port is free; the client's server is
        # unreachable, which is not required (it retries and spools)
        cfg = (f'[plugins.relay-server]\naddress = "[::]:{port}"\n'
               f'[plugins.relay-client]\nrelay_server = "127.0.0.1:{port}"\n')
        rep, c = self.doctor(cfg, root, code=0)
        self.assert_check(c, "relay-server-port", "MEASURED", f":::{port} is free")
        self.assert_check(c, "relay-server-reachable", "UNAVAILABLE",
                          f"connect(127.0.0.1:{port}) (plugins.relay-client.relay_server): "
                          "ECONNREFUSED", "start the relay-server agent first")
        _, c = self.doctor('[plugins.relay-server]\naddress = "nowhere"\n', root, code=1)
        self.assert_check(c, "relay-server-port", "UNAVAILABLE",
                          'plugins.relay-server.address = "nowhere" is not HOST:PORT',
                          'set plugins.relay-server.address = "[::]:50051"', required=True)


class TestOutput(DoctorCase):
    def test_text_output(self):
        root = self.tree({})
        self.write_config(RAPL_TDP)
        res = self.agent("doctor", "--root", root)
        self.assertEqual(res.returncode, 0, res)
        lines = res.stdout.split("\n")
        self.assertIn("ESTIMATED   cpu-energy         (energy-estimation-tdp, needed by the "
                      "config)", lines)
        self.assertEqual(lines[-2], "the enabled config can measure what it asks for")

    def test_bad_usage(self):
        res = self.agent("doctor", "--bogus")
        self.assertEqual(res.returncode, 2)
        self.assertIn("error: unexpected argument '--bogus' found", res.stderr)


class TestThisMachine(DoctorCase):
    def test_default_config_here(self):
        if os.path.exists("/sys/devices/power/type") or \
                os.path.exists("/sys/class/powercap/intel-rapl:0/energy_uj"):
            self.skipTest("this machine has RAPL; the check below is for one without")
        res = self.agent("doctor", "--json")
        self.assertEqual(res.returncode, 0, res)
        c = {x["id"]: x for x in json.loads(res.stdout)["checks"]}
        self.assert_check(c, "cpu-energy", "ESTIMATED",
                          "estimated by the energy-estimation-tdp plugin from the CPU time: "
                          "tdp = 100 W (plugins.energy-estimation-tdp.tdp), nb_cpu = "
                          f"{os.cpu_count()} (the CPUs online here", required=True)
        self.assert_check(c, "rapl-perf", "UNAVAILABLE", "/sys/devices/power/type: ENOENT")


if __name__ == "__main__":
    main()
