# SPDX-License-Identifier: MIT
"""relay-client and relay-server with real agents on loopback.

The client agent runs test-source (test_counter = 0, 1, 2, ... and the count
in `count_file`) with relay-client and a local csv; the server agent runs
relay-server and csv. Every point the client made must be in the server's
CSV exactly once and in order: through a plain connection, a server killed
and restarted mid-run (the spool resends), a client restarted with its spool
full, TLS with a CA made by `openssl` here, and a token. A raw socket speaks
upstream's bytes (spec outputs.md §8.2) to the server: greeting, version
mismatch (refused with a reply), a truncated body (error, no spin)."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "tests", "e2e"))
from e2e_common import (AgentTestCase, PLUGIN_DIR, READY, clean_env, main,  # noqa: E402
                        parse_rfc3339_ns)

WAIT = 30  # generous: the machine may be loaded


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pc_str(s):
    b = s.encode()
    assert len(b) < 128
    return bytes([len(b)]) + b


def frame(body):
    return struct.pack(">I", len(body)) + body


def greet(sender, proto):
    return frame(pc_str(sender) + b"\x00" + pc_str("0.9.5") + pc_str("0.6.0") + bytes([proto]))


class Reader:
    """A postcard reader of one body, as an independent check of the encoder."""

    def __init__(self, body):
        self.b = body
        self.i = 0

    def varint(self):
        v = shift = 0
        while True:
            c = self.b[self.i]
            self.i += 1
            v |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return v

    def str(self):
        n = self.varint()
        self.i += n
        return self.b[self.i - n:self.i].decode()

    def value(self):
        tag = self.varint()
        if tag == 0:
            self.i += 8
            return struct.unpack("<d", self.b[self.i - 8:self.i])[0]
        if tag in (1,):
            return self.varint()
        if tag == 2:
            self.i += 1
            return bool(self.b[self.i - 1])
        if tag == 3:
            return self.str()
        return [self.varint() for _ in range(self.varint())]

    def point(self):
        p = {"metric": self.varint(), "secs": self.varint(), "nanos": self.varint(),
             "value": self.value(), "resource": (self.str(), self.str()),
             "consumer": (self.str(), self.str())}
        p["attrs"] = [(self.str(), self.value()) for _ in range(self.varint())]
        return p


def read_frame(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data
    head = exactly(4)
    return exactly(struct.unpack(">I", head)[0]) if head else None


class Agent:
    """One agent in its own directory (config, CSV, logs)."""

    def __init__(self, test, name, config):
        self.test = test
        self.dir = os.path.join(test.dir, name)
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "alumet-config.toml"), "w") as f:
            f.write(config)
        self.proc = None
        self.runs = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def stderr(self):
        with open(self.path("stderr.%d" % self.runs), errors="replace") as f:
            return f.read()

    def start(self, wait_ready=True):
        self.runs += 1
        err = open(self.path("stderr.%d" % self.runs), "w")
        self.test.addCleanup(err.close)
        self.proc = subprocess.Popen(
            [os.environ["ALUMET_E2E_AGENT"], "--plugin-dir", PLUGIN_DIR, "run"], cwd=self.dir,
            env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        self.test._procs.append(self.proc)
        deadline = time.monotonic() + WAIT
        while wait_ready and READY not in self.stderr():
            if self.proc.poll() is not None:
                self.test.fail("agent %s exited with %d before being ready:\n%s"
                               % (self.dir, self.proc.returncode, self.stderr()))
            if time.monotonic() > deadline:
                self.test.fail("agent %s not ready:\n%s" % (self.dir, self.stderr()))
            time.sleep(0.02)
        return self

    def stop(self, sig=signal.SIGTERM, expect=0):
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.test.fail("agent %s did not stop:\n%s" % (self.dir, self.stderr()))
        if expect is not None:
            self.test.assertEqual(rc, expect, "agent %s exit status\n%s" % (self.dir,
                                                                            self.stderr()))
        return rc

    def wait_exit(self):
        try:
            return self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.test.fail("agent %s did not exit:\n%s" % (self.dir, self.stderr()))

    def count(self):
        with open(self.path("count")) as f:
            return int(f.read())

    def rows(self, name="out.csv"):
        """(header, rows) of a CSV of this agent."""
        if not os.path.exists(self.path(name)):
            return [], []
        with open(self.path(name)) as f:
            lines = [line.rstrip("\n").split(";") for line in f]
        return (lines[0], lines[1:]) if lines else ([], [])

    def counter_values(self, name="out.csv"):
        header, rows = self.rows(name)
        return [int(r[2]) for r in rows if r and r[0] == "test_counter"]


def server_config(port, csv="out.csv", extra="", host="127.0.0.1"):
    return ("[plugins.relay-server]\naddress = \"%s:%d\"\nstats_interval = \"200ms\"\n%s\n"
            "[plugins.csv]\noutput_path = \"%s\"\n" % (host, port, extra, csv))


def client_config(port, extra="", poll="20ms", points=3, host="127.0.0.1"):
    return ("[plugins.relay-client]\nclient_name = \"node1\"\nrelay_server = \"%s:%d\"\n"
            "buffer_max_length = 0\n%s\n"
            "[plugins.relay-client.retry]\nmax_times = 8\ninitial_delay = \"100ms\"\n"
            "max_delay = \"500ms\"\n\n"
            "[plugins.test-source]\npoll_interval = \"%s\"\npoints_per_poll = %d\n"
            "count_file = \"count\"\n\n"
            "[plugins.csv]\noutput_path = \"local.csv\"\n" % (host, port, extra, poll, points))


class TestRelay(AgentTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        out = subprocess.run([os.environ["ALUMET_E2E_AGENT"], "plugins", "list"],
                             capture_output=True, text=True, env=clean_env()).stdout
        for p in ("relay-client", "relay-server", "csv"):
            if "- %s v" % p not in out:
                raise unittest.SkipTest("the agent was built without the %s plugin" % p)

    def assert_sequence_in(self, values, count, what):
        self.assertEqual(len(values), count, "%s: %d points, the client made %d"
                         % (what, len(values), count))
        self.assertEqual(values, list(range(count)), "%s: not 0..%d in order" % (what, count - 1))

    def wait_for(self, cond, what, agent):
        deadline = time.monotonic() + WAIT
        while not cond():
            if time.monotonic() > deadline:
                self.fail("%s did not happen in %ds:\n%s" % (what, WAIT, agent.stderr()))
            time.sleep(0.05)

    def last_stat(self, server, metric, name="out.csv"):
        header, rows = server.rows(name)
        vals = [int(r[2]) for r in rows if r and r[0] == metric]
        return vals[-1] if vals else None

    def test_client_to_server_counts(self):
        port = free_port()
        server = Agent(self, "server", server_config(port)).start()
        client = Agent(self, "client", client_config(port)).start()
        self.wait_for(lambda: len(server.counter_values()) >= 30, "30 points at the server",
                      server)
        client.stop()
        n = client.count()
        self.assertGreaterEqual(n, 30)
        # the counters of the server reach exactly what the client made
        self.wait_for(lambda: self.last_stat(server, "relay_server_points_received") == n,
                      "relay_server_points_received = %d" % n, server)
        server.stop()
        self.assert_sequence_in(client.counter_values("local.csv"), n, "client CSV")
        self.assert_sequence_in(server.counter_values(), n, "server CSV")
        header, rows = server.rows()
        self.assertIn("relay_client", header)
        col = header.index("relay_client")
        self.assertEqual({r[col] for r in rows if r[0] == "test_counter"}, {"node1"})
        self.assertEqual(self.last_stat(server, "relay_server_connections"), 1)
        self.assertEqual(self.last_stat(server, "relay_server_decode_errors"), 0)
        self.assertIn("INFO  relay-server: relay client 'node1' connected from 127.0.0.1:",
                      server.stderr())

    def test_default_address_takes_ipv4_and_ipv6(self):
        """Upstream's client_to_server_to_csv: the server on [::] (its default
        address), clients to localhost and [::1]."""
        port = free_port()
        server = Agent(self, "server", server_config(port, host="[::]")).start()
        hosts = ["localhost"]
        if socket.has_ipv6:
            try:
                socket.create_connection(("::1", port), timeout=WAIT).close()
                hosts.append("[::1]")
            except OSError:
                pass
        total = 0
        for host in hosts:
            with self.subTest(host=host):
                client = Agent(self, "client-" + host.strip("[]:"),
                               client_config(port, host=host)).start()
                self.wait_for(lambda: client.count() >= 10, "10 points", client)
                client.stop()
                total += client.count()
                self.wait_for(lambda: len(server.counter_values()) >= total, "the points",
                              server)
        server.stop()
        self.assertEqual(len(server.counter_values()), total)

    def test_server_restart_loses_nothing(self):
        port = free_port()
        spool = os.path.join(self.dir, "spool")
        server = Agent(self, "server", server_config(port, "out1.csv")).start()
        client = Agent(self, "client", client_config(
            port, 'spool_dir = "%s"\nshutdown_timeout = "20s"\n' % spool)).start()
        self.wait_for(lambda: len(server.counter_values("out1.csv")) >= 20,
                      "20 points at the server", server)
        server.stop()
        # the client keeps measuring into its spool while the server is down
        c0 = client.count()
        self.wait_for(lambda: client.count() >= c0 + 40, "40 more points at the client", client)
        with open(server.path("alumet-config.toml"), "w") as f:
            f.write(server_config(port, "out2.csv"))
        server.start()
        self.wait_for(lambda: len(server.counter_values("out2.csv")) >= 40,
                      "the spooled points at the restarted server", server)
        client.stop()
        n = client.count()
        self.wait_for(lambda: self.last_stat(server, "relay_server_points_received", "out2.csv")
                      is not None and len(server.counter_values("out1.csv"))
                      + len(server.counter_values("out2.csv")) >= n,
                      "all %d points at the server" % n, server)
        server.stop()
        got = server.counter_values("out1.csv") + server.counter_values("out2.csv")
        self.assert_sequence_in(got, n, "server CSVs (before and after the restart)")
        self.assertIn("the measurements are kept in the spool '%s', will retry in" % spool,
                      client.stderr())
        # all was acknowledged: one segment is left (the last one is kept), and
        # the acknowledged position is its end
        segs = sorted(f for f in os.listdir(spool) if f.endswith(".seg"))
        self.assertEqual(len(segs), 1, segs)
        with open(os.path.join(spool, "acked")) as f:
            seg, off = f.read().split()
        self.assertEqual((seg + ".seg", int(off)),
                         (segs[0], os.path.getsize(os.path.join(spool, segs[0]))))

    def test_client_restart_resends_spool(self):
        port = free_port()
        spool = os.path.join(self.dir, "spool")
        extra = 'spool_dir = "%s"\nshutdown_timeout = "300ms"\n' % spool
        # no server at all: the client starts anyway and spools
        client = Agent(self, "client", client_config(port, extra)).start()
        self.wait_for(lambda: client.count() >= 30, "30 points at the client", client)
        client.stop()
        c1 = client.count()
        self.assertIn("%d point(s) not acknowledged by the relay server 127.0.0.1:%d are kept in "
                      "the spool '%s'" % (c1, port, spool), client.stderr())
        server = Agent(self, "server", server_config(port)).start()
        client.start()
        self.assertIn("%d point(s) of an earlier run wait in the spool '%s'" % (c1, spool),
                      client.stderr())
        self.wait_for(lambda: len(server.counter_values()) >= c1 + 10, "the spooled points",
                      server)
        client.stop()
        c2 = client.count()
        self.wait_for(lambda: len(server.counter_values()) >= c1 + c2, "all points", server)
        server.stop()
        self.assertEqual(server.counter_values(), list(range(c1)) + list(range(c2)))

    def make_ca(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl is not installed")
        d = os.path.join(self.dir, "pki")
        os.makedirs(d)

        def ossl(*args):
            subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)

        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=relay test CA")
        for name in ("server", "client"):
            ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                 name + ".csr", "-subj", "/CN=" + name)
            with open(os.path.join(d, name + ".ext"), "w") as f:
                f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
            ossl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile",
                 name + ".ext")
        return d

    def test_tls_with_client_certificates(self):
        d = self.make_ca()
        port = free_port()
        server = Agent(self, "server", server_config(port, extra=(
            'tls_cert = "{0}/server.pem"\ntls_key = "{0}/server.key"\ntls_ca = "{0}/ca.pem"\n'
            'tls_require_client_cert = true\n').format(d))).start()
        client = Agent(self, "client", client_config(port, (
            'tls = true\ntls_ca = "{0}/ca.pem"\ntls_cert = "{0}/client.pem"\n'
            'tls_key = "{0}/client.key"\n').format(d))).start()
        self.wait_for(lambda: len(server.counter_values()) >= 30, "30 points over TLS", server)
        client.stop()
        n = client.count()
        self.wait_for(lambda: len(server.counter_values()) >= n, "all points", server)
        server.stop()
        self.assert_sequence_in(server.counter_values(), n, "server CSV over TLS")
        self.assertIn("relay server listening on 127.0.0.1:%d (TLS)" % port, server.stderr())
        # a client that does not trust the server's CA cannot connect
        bad = Agent(self, "bad", client_config(port, 'tls = true\n').replace(
            "max_times = 8", "max_times = 0"))
        server.start()
        bad.start(wait_ready=False)
        self.assertEqual(bad.wait_exit(), 1)
        self.assertIn("relay connection error (retries exhausted): TLS handshake with "
                      "127.0.0.1:%d failed: certificate: self-signed certificate in certificate "
                      "chain" % port, bad.stderr())
        server.stop()

    def test_wrong_token_refused(self):
        port = free_port()
        server = Agent(self, "server", server_config(port, extra='token = "s3cret"\n')).start()
        client = Agent(self, "client", client_config(port, 'token = "wrong"\n'))
        client.start(wait_ready=False)
        self.assertEqual(client.wait_exit(), 1)
        self.assertIn("relay connection error: the relay server 127.0.0.1:%d refused the "
                      "connection: wrong token" % port, client.stderr())
        self.assertIn("WARN  relay-server: relay client 127.0.0.1:", server.stderr())
        self.assertIn("('node1') refused: wrong token", server.stderr())
        # the right token works
        with open(client.path("alumet-config.toml"), "w") as f:
            f.write(client_config(port, 'token = "s3cret"\n'))
        client.start()
        self.wait_for(lambda: len(server.counter_values()) >= 10, "points with the token",
                      server)
        client.stop()
        n = client.count()
        self.wait_for(lambda: len(server.counter_values()) >= n, "all points", server)
        server.stop()
        self.assert_sequence_in(server.counter_values(), n, "server CSV with a token")

    def test_upstream_bytes(self):
        """The spec's byte examples, sent by a raw socket as upstream's client would."""
        port = free_port()
        server = Agent(self, "server", server_config(port)).start()
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(bytes.fromhex("00000014056e6f6465310005302e392e3505302e362e3002"))
            want = bytes.fromhex("0000001000010105302e392e3505302e362e3002")
            got = b""
            while len(got) < len(want):
                chunk = s.recv(64)
                self.assertTrue(chunk, "connection closed after %r" % got)
                got += chunk
            self.assertEqual(got.hex(), want.hex())
            s.sendall(bytes.fromhex(
                "00 00 00 22 05 6e 6f 64 65 31 02 01 00 14 72 61 70 6c 5f 63 6f 6e 73 75 6d 65 "
                "64 5f 65 6e 65 72 67 79 01 01 4a 00"))
            s.sendall(bytes.fromhex(
                "00 00 00 3f 05 6e 6f 64 65 31 03 01 00 01 00 00 00 00 00 00 00 00 f8 3f 0d 6c "
                "6f 63 61 6c 5f 6d 61 63 68 69 6e 65 00 07 70 72 6f 63 65 73 73 02 34 32 01 06 "
                "64 6f 6d 61 69 6e 03 07 70 61 63 6b 61 67 65"))
        self.wait_for(lambda: any(r[0] == "rapl_consumed_energy_J" for r in server.rows()[1]),
                      "the point of the example", server)
        server.stop()
        header, rows = server.rows()
        row = dict(zip(header, [r for r in rows if r[0] == "rapl_consumed_energy_J"][0]))
        self.assertEqual(parse_rfc3339_ns(row["timestamp"]), 1_000_000_000)
        self.assertEqual((row["value"], row["resource_kind"], row["resource_id"],
                          row["consumer_kind"], row["consumer_id"]),
                         ("1.5", "local_machine", "", "process", "42"))
        late = row.get("__late_attributes", "")
        attrs = dict(kv.split("=", 1) for kv in late.split(",") if kv)
        for k in ("domain", "relay_client"):
            if k in header:
                attrs[k] = row[k]
        self.assertEqual(attrs, {"domain": "package", "relay_client": "node1"})

    def test_client_speaks_upstream(self):
        """The client against a server that checks upstream's bytes."""
        lsock = socket.socket()
        self.addCleanup(lsock.close)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        port = lsock.getsockname()[1]
        client = Agent(self, "client", client_config(port, poll="20ms", points=2))
        client.start(wait_ready=False)
        lsock.settimeout(WAIT)
        conn, _ = lsock.accept()
        self.addCleanup(conn.close)
        conn.settimeout(WAIT)
        self.assertEqual(read_frame(conn).hex(), greet("node1", 2)[4:].hex())
        conn.sendall(bytes.fromhex("0000001000010105302e392e3505302e362e3002"))
        self.assertEqual(read_frame(conn).hex(), (pc_str("node1") + b"\x02\x01\x00"
                                                  + pc_str("test_counter") + b"\x01"
                                                  + pc_str("1") + pc_str("")).hex())
        values = []
        while len(values) < 20:
            r = Reader(read_frame(conn))
            self.assertEqual((r.str(), r.varint()), ("node1", 3))
            for _ in range(r.varint()):
                p = r.point()
                self.assertEqual((p["metric"], p["resource"], p["consumer"], p["attrs"]),
                                 (0, ("local_machine", ""), ("local_machine", ""), []))
                values.append(p["value"])
            self.assertEqual(r.i, len(r.b), "trailing bytes")
        client.stop()
        while True:  # what the client sent until it stopped (the kept points included)
            body = read_frame(conn)
            if body is None:
                break
            r = Reader(body)
            r.str()
            r.varint()
            values += [r.point()["value"] for _ in range(r.varint())]
        self.assertEqual(values, list(range(client.count())))

    def test_stalled_server_is_left(self):
        """A server that greets, then stops reading: once the socket's buffers
        are full, the client's send makes no progress for 10 s, fails, and the
        client reconnects (what was not sent stays in the spool). Before, the
        send blocked until TCP gave up, many minutes later, and held the
        output meanwhile."""
        lsock = socket.socket()
        self.addCleanup(lsock.close)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(4)
        port = lsock.getsockname()[1]
        extra = 'spool_dir = "spool"\nacknowledgments = false\nshutdown_timeout = "1s"\n'
        # the agent's own shutdown_timeout too: under ThreadSanitizer with
        # every core busy, the output fell 1,000 buffers behind the source's
        # 200,000 points per second, and the stop drained them for 23 s of
        # the default 30 s (CI8: over the test's 30 s); with 3 s, what is
        # left is dropped, counted, and the exit status says so
        client = Agent(self, "client", 'shutdown_timeout = "3s"\n' +
                       client_config(port, extra, poll="10ms", points=2000))
        client.start(wait_ready=False)
        lsock.settimeout(WAIT)
        conn, _ = lsock.accept()
        self.addCleanup(conn.close)
        conn.settimeout(WAIT)
        self.assertEqual(read_frame(conn).hex(), greet("node1", 2)[4:].hex())
        conn.sendall(bytes.fromhex("0000001000010105302e392e3505302e362e3002"))
        # nothing read from here on: the reconnection comes 10 s after the
        # client's last progress (20 to 30 s here; each send that moved some
        # bytes starts its 10 s again)
        lsock.settimeout(4 * WAIT)
        again, _ = lsock.accept()
        self.addCleanup(again.close)
        want = ("relay server 127.0.0.1:%d: 127.0.0.1:%d took no data for 10 s "
                "(it stopped reading); reconnecting" % (port, port))
        self.assertEqual(client.stderr().count(want), 1, client.stderr())
        again.close()
        conn.close()
        lsock.close()
        if client.stop(expect=None) != 0:
            self.assertRegex(client.stderr(), r"ERROR pipeline: output relay-client/tcp_client "
                             r"lost \d+ points: 0 in 0 buffers dropped because its queue was full "
                             r"\(output_queue_policy = \"drop_oldest\"\), \d+ not written \(write "
                             r"errors, retry limit or shutdown_timeout\)")
            self.assertEqual(client.proc.returncode, 1, client.stderr())

    def test_version_mismatch_and_truncated_body(self):
        port = free_port()
        server = Agent(self, "server", server_config(port)).start()
        # protocol 3: refused with a reply (upstream sent nothing), then closed
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(greet("old", 3))
            got = b""
            while True:
                chunk = s.recv(64)
                if not chunk:
                    break
                got += chunk
        self.assertEqual(got.hex(), "0000001000010005302e392e3505302e362e3002")
        # a body cut short: an error, the connection closed, no spinning
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(struct.pack(">I", 100) + b"\x05node2\x02" + b"\x00" * 3)
        self.wait_for(lambda: "closed the connection inside a message (10 of 100 bytes)"
                      in server.stderr(), "the truncation error", server)
        t0 = time.process_time()
        cpu0 = self.cpu_seconds(server.proc.pid)
        time.sleep(1)
        self.assertLess(self.cpu_seconds(server.proc.pid) - cpu0, 0.5,
                        "the server spins after a truncated body")
        del t0
        # a client stalled inside a header does not hold the server's shutdown
        stall = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.addCleanup(stall.close)
        stall.sendall(b"\x00\x00")
        time.sleep(0.2)
        server.stop()
        err = server.stderr()
        self.assertIn("closed the connection inside a message header (2 of 4 bytes)", err)
        self.assertIn("Error in relay source connected to client 127.0.0.1:", err)
        self.assertIn("protocol version mismatch: the client speaks version 3, this server 2; "
                      "refused", err)

    def test_bad_address(self):
        """Upstream's args_bad_relay_server_address: the bad address is named."""
        res = self.agent("--plugins", "relay-client", "--relay-out", "BADuri:#\u00e9", "exec",
                         "sleep", "1")
        self.assert_exit(res, 1)
        self.assert_in_stderr("plugins.relay-client.relay_server: invalid socket address: "
                              "BADuri:#\u00e9 (expected host:port, such as \"localhost:50051\" or "
                              "\"[::1]:50051\")", res)
        res = self.agent("--plugins", "relay-server,csv", "--relay-in", "[::1]", "exec", "true")
        self.assert_exit(res, 1)
        self.assert_in_stderr("plugins.relay-server.address: invalid socket address: [::1]", res)

    @staticmethod
    def cpu_seconds(pid):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
