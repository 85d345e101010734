# SPDX-License-Identifier: MIT
"""The quarch plugin against a fake Quarch module on loopback (the framed
TCP text protocol) and a fake QIS (a "java" program that listens on
qis_port): the setup commands, the exact power in the CSV output, a
reconnection after the module dropped the connection, RECord:STOP and
$shutdown at the end, QIS started with -jar and stopped."""

import csv
import os
import socket
import stat
import sys
import threading
import time

from e2e_http import SKIP, AgentTestCase, free_port, run_tests, wait_until

RAILS = [(12000, 800000), (5000, 100000)]
ANSWER = "".join(f"{v}V Voltage = {mv}mV\r\n{v}V Current = {ua}uA\r\n"
                 for v, (mv, ua) in zip((12, 5), RAILS))
WATTS = sum(mv / 1000 * (ua / 1e6) for mv, ua in RAILS)
SETUP = ["CONFig:DEFault STATE", "RECord:TRIGger:MODE MANUAL", "RECord:AVEraging 32K",
         "RECord:RUN"]


class FakeModule:
    """Answers every command with OK, Measure:OUTputs? with ANSWER split in
    two frames; drop_at: the n-th measure (0-based) closes the connection."""

    def __init__(self, drop_at=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.commands = []  # per connection: [commands]
        self.errors = []
        self.measures = 0
        self.drop_at = drop_at
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def close(self):
        self.sock.close()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.commands.append([])
                mine = self.commands[-1]
            threading.Thread(target=self.serve, args=(conn, mine), daemon=True).start()

    @staticmethod
    def recv(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    @staticmethod
    def frame(text):
        data = text.encode()
        return bytes([len(data), 0]) + data

    def serve(self, conn, mine):
        try:
            while True:
                n, zero = self.recv(conn, 2)
                text = self.recv(conn, n).decode()
                if zero != 0 or not text.endswith("\r\n"):
                    self.errors.append(f"bad frame {n} {zero} {text!r}")
                cmd = text[:-2]
                with self.lock:
                    mine.append(cmd)
                if cmd == "Measure:OUTputs?":
                    with self.lock:
                        k = self.measures
                        self.measures += 1
                    if k == self.drop_at:
                        conn.close()
                        return
                    half = len(ANSWER) // 2
                    conn.sendall(self.frame(ANSWER[:half]))
                    time.sleep(0.001)
                    conn.sendall(self.frame(ANSWER[half:] + ">"))
                else:
                    conn.sendall(self.frame("OK\r\n>"))
        except (EOFError, OSError):
            pass
        finally:
            conn.close()


FAKE_JAVA = """#!{python}
import os, signal, socket, sys, time
with open({args!r}, "w") as f:
    f.write("\\n".join(sys.argv[1:]))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", {port}))
s.listen(8)
signal.signal(signal.SIGTERM, lambda *a: (open({done!r}, "w").close(), sys.exit(0)))
while True:
    c, _ = s.accept()
    c.close()
"""


class TestQuarch(AgentTestCase):
    tmp_prefix = "alumet-quarch-"

    def setup_fakes(self, **kw):
        module = FakeModule(**kw)
        self.addCleanup(module.close)
        qis_port = free_port()
        java = os.path.join(self.dir, "java")
        with open(java, "w", encoding="utf-8") as f:
            f.write(FAKE_JAVA.format(python=sys.executable, port=qis_port,
                                     args=os.path.join(self.dir, "java.args"),
                                     done=os.path.join(self.dir, "java.done")))
        os.chmod(java, stat.S_IRWXU)
        config = f"""\
[plugins.quarch]
quarch_ip = "127.0.0.1"
quarch_port = {module.port}
qis_port = {qis_port}
java_bin = "{java}"
qis_jar_path = "/opt/quarch/qis.jar"
poll_interval = "150ms"
flush_interval = "150ms"

[plugins.csv]
output_path = "out.csv"
force_flush = true
"""
        return module, config

    def values(self):
        try:
            with open(os.path.join(self.dir, "out.csv"), newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f, delimiter=";"))[1:]
        except FileNotFoundError:
            return []
        for r in rows:
            self.assertEqual(r[0], "disk_power_W")
            self.assertEqual(r[3:7], ["local_machine", "", "local_machine", ""])
        return [float(r[2]) for r in rows]

    def test_measures_and_qis(self):
        module, config = self.setup_fakes()
        agent = self.agent(config)
        agent.wait_ready(timeout=30)
        wait_until(lambda: len(self.values()) >= 5, 20, "5 measurements")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assertEqual(module.errors, [])
        values = self.values()
        self.assertEqual(values, [WATTS] * len(values))
        self.assertEqual(len(module.commands), 1)
        cmds = module.commands[0]
        self.assertEqual(cmds[:4], SETUP)
        self.assertEqual(cmds[4:-2], ["Measure:OUTputs?"] * (len(cmds) - 6))
        self.assertEqual(cmds[-2:], ["RECord:STOP", "$shutdown"])
        with open(os.path.join(self.dir, "java.args"), encoding="utf-8") as f:
            self.assertEqual(f.read(), "-jar\n/opt/quarch/qis.jar")
        self.assertTrue(os.path.exists(os.path.join(self.dir, "java.done")), "QIS not stopped")
        err = agent.stderr()
        self.assertIn("INFO  quarch: started the Quarch Instrument Server (pid ", err)
        self.assertIn(f"INFO  quarch: connected to the Quarch module at 127.0.0.1:{module.port} "
                      "(averaging 32K)", err)

    def test_reconnects(self):
        module, config = self.setup_fakes(drop_at=2)
        agent = self.agent(config)
        agent.wait_ready(timeout=30)
        wait_until(lambda: len(module.commands) >= 2 and len(self.values()) >= 5, 20,
                   "a reconnection and 5 measurements")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assertEqual(module.commands[1][:4], SETUP)
        self.assertEqual(set(self.values()), {WATTS})
        self.assertIn("no answer to 'Measure:OUTputs?' from the Quarch module: Connection reset "
                      "by peer", agent.stderr())


if __name__ == "__main__":
    run_tests(all_skipped_exit=SKIP)
