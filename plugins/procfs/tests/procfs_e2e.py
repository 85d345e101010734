# SPDX-License-Identifier: MIT
"""What the procfs e2e tests on many real processes share: the children of
tests/spawn-pausers, the agent's configuration (one watcher group chosen by
ppid, the system sources off, CSV), and starting and stopping the agent with
the checks every run makes (exit status 0, no warning). Python 3 standard
library only."""
import os
import signal
import subprocess

from e2e_common import AGENT, check

HELPER = os.environ.get("PROCFS_SPAWN_PAUSERS", "")


def read_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def group_config(out, ppid, csv_extra="", group_extra=""):
    """The processes of parent ppid, refreshed and polled every second, into
    the CSV file out."""
    return ('[plugins.csv]\noutput_path = "%s"\n%s\n'
            '[plugins.procfs.kernel]\nenabled = false\n'
            '[plugins.procfs.memory]\nenabled = false\n'
            '[plugins.procfs.network]\nenabled = false\n'
            '[plugins.procfs.processes]\nstrategy = "watcher"\n'
            'refresh_interval = "1s"\n'
            '[[plugins.procfs.processes.groups]]\nppid = %d\n'
            'poll_interval = "1s"\nflush_interval = "1s"\n%s'
            % (out, csv_extra, ppid, group_extra))


def start_agent(tmp, config, **popen_args):
    """The agent run with config in tmp, its output in tmp/agent.log:
    (process, log file)."""
    cfg = os.path.join(tmp, "alumet.toml")
    with open(cfg, "w") as f:
        f.write(config)
    log = open(os.path.join(tmp, "agent.log"), "w+")
    agent = subprocess.Popen([AGENT, "--plugins", "procfs,csv", "--config", cfg,
                              "--no-default-config", "run"], stdout=log, stderr=log, cwd=tmp,
                             **popen_args)
    return agent, log


def stop_agent(agent, log, timeout=60):
    """SIGTERM, then check: it was running, it exits 0, it logged no warning
    nor error. Returns its log."""
    check(agent.poll() is None, "the agent has stopped early (status %s)" % agent.returncode)
    agent.send_signal(signal.SIGTERM)
    status = agent.wait(timeout=timeout)
    log.seek(0)
    text = log.read()
    check(status == 0, "agent exit status %d\n%s" % (status, text[-3000:]))
    noise = [line for line in text.splitlines()
             if ("WARN" in line or "ERROR" in line) and "hidepid" not in line]
    check(not noise, "warnings or errors:\n%s" % "\n".join(noise))
    return text


def kill_agent(agent):
    if agent and agent.poll() is None:
        agent.kill()
        agent.wait()


def start_pausers(count):
    """count sleeping children of spawn-pausers: (helper, their pids), or
    (None, why) when they could not all be made."""
    helper = subprocess.Popen([HELPER, str(count)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = helper.stdout.readline().split()
    made = int(line[1]) if len(line) == 2 and line[0] == "ready" else 0
    if made < count:
        helper.stdin.close()
        helper.wait()
        return None, "only %d of %d processes could be made: %s" % (
            made, count, helper.stderr.read().strip())
    pids = {int(d) for d in os.listdir("/proc") if d.isdigit()
            and read_ppid(int(d)) == helper.pid}
    check(len(pids) == count, "%d children of the helper in /proc" % len(pids))
    return helper, pids


def stop_pausers(helper):
    if helper.poll() is None:
        helper.stdin.close()
        helper.wait(timeout=120)


def pausers_missing():
    """Why the spawn-pausers tests cannot run here, or None."""
    if not HELPER or not os.path.exists(HELPER) or not os.path.exists("/proc/self/stat"):
        return "no /proc or no spawn-pausers helper (PROCFS_SPAWN_PAUSERS)"
    return None
