# SPDX-License-Identifier: MIT
"""End to end: the scheduling of the threads of managed sources. A source
polled every 3 ms or faster runs at SCHED_FIFO 55 (upstream's "priority"
threads), a slower one at SCHED_OTHER; ALUMET_PRIORITY_THREADS=0 (or
--priority-worker-threads 0) keeps every source at SCHED_OTHER; without
CAP_SYS_NICE the agent logs one error (the capability and the setcap line)
and one warning, and the sources still measure; a program started by `exec`
does not inherit SCHED_FIFO; set-period through socket-control switches a
source in and out of SCHED_FIFO.

The policy and priority of each thread are read from /proc/PID/task/*/stat
(fields 41 and 40); the threads are named (src/util/thread-name.h). Needs
root with CAP_SYS_NICE where SCHED_FIFO is allowed (skipped otherwise), and
the procfs and csv plugins. No timing is asserted."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest

from e2e_common import RUN_TIMEOUT, AGENT, AgentTestCase, clean_env, main, needs_csv

SCHED_OTHER, SCHED_FIFO = 0, 1
FAST, SLOW = "src:procfs/kern", "src:procfs/netw"  # thread names, cut at 15 characters

CONFIG = """\
[plugins.procfs.kernel]
poll_interval = "1ms"
flush_interval = "100ms"
[plugins.procfs.memory]
poll_interval = "{memory}"
[plugins.procfs.network]
poll_interval = "1s"
[plugins.procfs.processes]
enabled = false

[plugins.csv]
output_path = "out.csv"
force_flush = true
"""

ERROR_NO_CAP = (
    "ERROR pipeline: cannot give the sources polled every 3 ms or faster the real-time priority "
    "SCHED_FIFO 55: EPERM (Operation not permitted): the agent lacks the capability "
    "CAP_SYS_NICE; fix: 'sudo setcap cap_sys_nice+ep {exe}' (setcap replaces the file's "
    "capabilities: name every one the agent needs in one call, such as "
    "cap_sys_nice,cap_perfmon+ep), AmbientCapabilities=CAP_SYS_NICE in its systemd unit, or "
    "run it as root; '--priority-worker-threads 0' turns real-time priority off")
WARN_RE = re.compile(
    r"WARN  pipeline: source procfs/(kernel|memory) \(and any other source polled every 3 ms "
    r"or faster\) runs at the normal priority: its timing may drift when the CPUs are busy")


def fifo_allowed():
    """Why SCHED_FIFO cannot be tested here, or None."""
    if os.geteuid() != 0:
        return "not root"
    probe = subprocess.run([sys.executable, "-c",
                            "import os; os.sched_setscheduler(0, os.SCHED_FIFO, "
                            "os.sched_param(55))"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "SCHED_FIFO is refused to root here: " + probe.stderr.strip()[-200:]
    return None


def threads(pid):
    """{thread name: (policy, rt_priority)} of the process pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                text = f.read()
        except OSError:
            continue  # the thread ended
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
        out[comm] = (int(fields[41 - 3]), int(fields[40 - 3]))
    return out


@needs_csv
class RealtimeTest(AgentTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = fifo_allowed()
        if why:
            raise unittest.SkipTest(why)
        out = subprocess.run([AGENT, "plugins", "list"], capture_output=True, text=True,
                             env=clean_env(), timeout=RUN_TIMEOUT).stdout
        if "- procfs v" not in out:
            raise unittest.SkipTest("this agent was built without the procfs plugin")
        cls.has_socket_control = "- socket-control v" in out

    def start_agent(self, memory="1s", env=None, wrapper=(), extra=()):
        self.write_config(CONFIG.format(memory=memory) + "".join(extra))
        plugins = "procfs,csv" + (",socket-control" if extra else "")
        args = ["--config", "alumet-config.toml", "--no-default-config", "--plugins", plugins,
                "run"]
        p = self.start(*args, plugin_dir=False, env=env) if not wrapper else None
        if wrapper:
            # start() runs AGENT itself: the same, behind the wrapper
            out = open(self.path("agent.stdout"), "w", encoding="utf-8")
            err = open(self.path("agent.stderr"), "w", encoding="utf-8")
            self.addCleanup(out.close)
            self.addCleanup(err.close)
            p = subprocess.Popen(list(wrapper) + [AGENT] + args, cwd=self.dir, env=clean_env(env),
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            p.argv = list(wrapper) + [AGENT] + args
            p.t_start = time.monotonic()
            self._procs.append(p)
        return p

    def wait_for(self, cond, what, p):
        deadline = time.monotonic() + 20
        while not cond():
            if p.poll() is not None:
                self.fail("the agent exited (%d) while waiting for %s\n%s"
                          % (p.returncode, what, self.read("agent.stderr")))
            if time.monotonic() > deadline:
                self.fail("still waiting for %s after 20 s: threads %r\n%s"
                          % (what, threads(p.pid), self.read("agent.stderr")))
            time.sleep(0.05)

    def samples(self, metric):
        """Distinct timestamps of metric in out.csv so far."""
        try:
            with open(self.path("out.csv")) as f:
                return {line.split(";")[1] for line in f if line.startswith(metric + ";")}
        except FileNotFoundError:
            return set()

    def wait_polled(self, p):
        """Both sources polled at least once: each thread applied its
        scheduling (before its first poll)."""
        self.wait_for(lambda: len(self.samples("kernel_context_switches")) >= 2
                      and self.samples("network_bytes_B"), "the first samples", p)

    def test_fast_source_fifo_slow_source_other(self):
        p = self.start_agent()
        self.wait_polled(p)
        t = threads(p.pid)
        self.assertEqual(t.get(FAST), (SCHED_FIFO, 55), t)
        self.assertEqual(t.get(SLOW), (SCHED_OTHER, 0), t)
        # the agent's other threads are untouched
        for name in ("out:csv", "signals"):
            self.assertEqual(t.get(name), (SCHED_OTHER, 0), (name, t))
        # no transform configured: the sources push straight to the outputs
        self.assertNotIn("transform", t)
        res = self.stop(p)
        self.assert_exit(res, 0)
        self.assertNotIn("ERROR", res.stderr)
        self.assertNotIn("WARN", res.stderr)

    def test_priority_threads_zero(self):
        for env, flag in (({"ALUMET_PRIORITY_THREADS": "0"}, ()),
                          (None, ("--priority-worker-threads", "0"))):
            with self.subTest(env=env, flag=flag):
                self.write_config(CONFIG.format(memory="1s"))
                p = self.start(*flag, "--config", "alumet-config.toml", "--no-default-config",
                               "--plugins", "procfs,csv", "run", plugin_dir=False, env=env)
                self.wait_polled(p)
                t = threads(p.pid)
                self.assertEqual(t.get(FAST), (SCHED_OTHER, 0), t)
                self.assertEqual(t.get(SLOW), (SCHED_OTHER, 0), t)
                self.assert_exit(self.stop(p), 0)
                os.unlink(self.path("out.csv"))

    def test_priority_threads_invalid(self):
        self.write_config(CONFIG.format(memory="1s"))
        res = self.agent("--priority-worker-threads", "two", "--plugins", "procfs,csv",
                         "--no-default-config", "config", "check")
        self.assert_exit(res, 1)
        self.assert_in_stderr(
            "invalid value 'two' for '--priority-worker-threads' (or ALUMET_PRIORITY_THREADS): "
            "expected a number of threads, 0 to keep every source at the normal priority", res)

    def test_without_cap_sys_nice(self):
        setpriv = shutil.which("setpriv")
        if not setpriv:
            self.skipTest("setpriv (util-linux) is not installed")
        # two fast sources (1 ms and 2 ms): still one error for the agent
        p = self.start_agent(memory="2ms",
                             wrapper=(setpriv, "--inh-caps=-sys_nice", "--bounding-set=-sys_nice"))
        self.wait_polled(p)
        self.wait_for(lambda: len(self.samples("mem_total_B")) >= 2, "memory samples", p)
        t = threads(p.pid)
        self.assertEqual(t.get(FAST), (SCHED_OTHER, 0), t)
        self.assertEqual(t.get("src:procfs/memo"), (SCHED_OTHER, 0), t)
        res = self.stop(p)
        self.assert_exit(res, 0)
        lines = res.stderr.splitlines()
        errors = [line for line in lines if line.startswith("ERROR")]
        self.assertEqual(errors, [ERROR_NO_CAP.format(exe=os.path.realpath(AGENT))], res)
        warns = [line for line in lines if line.startswith("WARN")]
        self.assertEqual(len(warns), 1, res)
        self.assertRegex(warns[0], WARN_RE)
        # the sources measured all along
        self.assertGreaterEqual(len(self.samples("kernel_context_switches")), 2)

    def test_exec_child_is_not_fifo(self):
        self.write_config(CONFIG.format(memory="1s"))
        res = self.agent("--config", "alumet-config.toml", "--no-default-config", "--plugins",
                         "procfs,csv", "exec", sys.executable, "-c",
                         "import os, time; time.sleep(0.3); "
                         "print(os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)")
        self.assert_exit(res, 0)
        self.assertEqual(res.stdout.split(), [str(SCHED_OTHER), "0"], res)

    def test_set_period_switches_scheduling(self):
        if not self.has_socket_control:
            self.skipTest("this agent was built without the socket-control plugin")
        # the kernel source starts at 1 s: normal; 1 ms: FIFO; 5 ms: normal again
        p = self.start_agent(extra=('\n[plugins.socket-control]\n'
                                    'socket_path = "alumet-control.sock"\n'))
        self.wait_polled(p)

        def control(line):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(self.path("alumet-control.sock"))
            s.sendall(line.encode() + b"\n")
            reply = s.recv(4096).decode()
            s.close()
            self.assertEqual(reply, "ok\n", line)

        control("control src/procfs/kernel set-period 1s")
        self.wait_for(lambda: threads(p.pid).get(FAST) == (SCHED_OTHER, 0), "SCHED_OTHER", p)
        control("control src/procfs/kernel set-period 3ms")
        self.wait_for(lambda: threads(p.pid).get(FAST) == (SCHED_FIFO, 55), "SCHED_FIFO 55", p)
        control("control src/procfs/network set-period 2ms")
        self.wait_for(lambda: threads(p.pid).get(SLOW) == (SCHED_FIFO, 55), "SCHED_FIFO 55", p)
        control("control src/procfs/kernel set-period 5ms")
        self.wait_for(lambda: threads(p.pid).get(FAST) == (SCHED_OTHER, 0), "SCHED_OTHER", p)
        res = self.stop(p)
        self.assert_exit(res, 0)
        self.assertNotIn("ERROR", res.stderr)


if __name__ == "__main__":
    main()
