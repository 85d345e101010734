# SPDX-License-Identifier: MIT
"""The TLS and authentication options of the HTTP outputs
(docs/http-outputs.md), against a fake server in Python that speaks TLS
with a certificate of a test CA made by `openssl`, requires a client
certificate of that CA, and a bearer token whose exact header value it
checks: the influxdb output (v2 write API) and the opentelemetry output
(OTLP/HTTP). Then what happens without the client certificate, the token,
the CA, with tls_insecure, and with contradictory options.

Skipped without openssl. Meson passes ALUMET_E2E_AGENT and
ALUMET_E2E_PLUGIN_DIR.
"""

import http.server
import os
import ssl
import subprocess
import threading
import unittest

from e2e_common import AGENT
from e2e_http import AgentTestCase, run_tests, wait_until
from e2e_tls import have_openssl, make_pki


class TlsFake:
    """An HTTPS server on 127.0.0.1 that requires a client certificate
    signed by ca and answers every POST with `answer(path, headers, body)`
    -> (status, content type, body bytes), after recording the request."""

    def __init__(self, pki, token, tls12=False):
        self.tokens = {token}  # the accepted Authorization values are "Bearer <token>"
        self.requests = []  # (path, Authorization, body)
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                auth = self.headers.get("Authorization")
                with fake.lock:
                    fake.requests.append((self.path, auth, body))
                    good = auth in {f"Bearer {t}" for t in fake.tokens}
                if not good:
                    status, ctype, data = 401, "application/json", \
                        b'{"code":"unauthorized","message":"unauthorized access"}'
                elif self.path.startswith("/api/v2/write"):
                    status, ctype, data = 204, None, b""
                else:  # OTLP/HTTP: an empty ExportMetricsServiceResponse
                    status, ctype, data = 200, "application/x-protobuf", b""
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki["server_cert"], pki["server_key"])
        ctx.load_verify_locations(pki["ca"])
        ctx.verify_mode = ssl.CERT_REQUIRED
        if tls12:
            # TLS 1.3 refuses a client certificate after the handshake, when
            # the client may already be writing: it reads the alert, or a
            # reset, by chance; TLS 1.2 refuses it during the handshake
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.server.handle_error = lambda *a: None  # refused handshakes are expected
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def auths(self, prefix="/"):
        with self.lock:
            return [a for p, a, b in self.requests if p.startswith(prefix) and b]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class TestHttpTls(AgentTestCase):
    tmp_prefix = "alumet-http-tls-"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not have_openssl():
            raise unittest.SkipTest("no openssl binary (Debian package 'openssl')")
        plugins = subprocess.run([AGENT, "plugins", "list"], capture_output=True, text=True,
                                 timeout=30).stdout
        if "- influxdb v" not in plugins or "- opentelemetry v" not in plugins:
            raise unittest.SkipTest("agent built without the influxdb and opentelemetry plugins "
                                    "(libcurl, libprotobuf-c)")

    def setUp(self):
        super().setUp()
        self.pki = make_pki(self.dir)
        self.token_file = os.path.join(self.dir, "token")
        with open(self.token_file, "w", encoding="utf-8") as f:
            f.write("tok-1\n")
        self.fake = TlsFake(self.pki, "tok-1")
        self.addCleanup(self.fake.close)

    def influx(self, tls=None, auth=None, host=None, max_points=0):
        """An influxdb output to the fake: tls and auth are TOML lines
        (None: the CA, the client certificate, the token file)."""
        if tls is None:
            tls = (f'tls_ca = "{self.pki["ca"]}"\n'
                   f'tls_client_cert = "{self.pki["client_cert"]}"\n'
                   f'tls_client_key = "{self.pki["client_key"]}"\n')
        if auth is None:
            auth = f'bearer_token_file = "{self.token_file}"\n'
        host = host or f"https://localhost:{self.fake.port}"
        return f"""\
[plugins.test-source]
poll_interval = "100ms"
count_file = "count"

[plugins.influxdb]
host = "{host}"
token = ""
org = "o"
bucket = "b"
max_buffered_points = {max_points}
{tls}{auth}"""

    def failed_start(self, config):
        a = self.agent(config)
        rc = a.wait_exit(60)
        self.assertNotEqual(rc, 0, a.stderr())
        return a.stderr()

    def test_client_certificate_and_bearer_token_file(self):
        a = self.agent(self.influx())
        a.wait_ready()
        wait_until(lambda: len(self.fake.auths("/api/v2/write")) >= 2, 30, "two writes")
        # the token file is rotated: the next requests carry the new token
        with self.fake.lock:
            self.fake.tokens.add("tok-2")
        with open(self.token_file + ".new", "w", encoding="utf-8") as f:
            f.write("tok-2\n")
        os.rename(self.token_file + ".new", self.token_file)
        wait_until(lambda: "Bearer tok-2" in self.fake.auths(), 30, "a write with tok-2")
        self.assertEqual(a.stop(), 0, a.stderr())
        auths = self.fake.auths("/api/v2/write")
        first = auths.index("Bearer tok-2")
        self.assertEqual(set(auths[:first]) - {"Bearer tok-1"}, set(), auths)
        self.assertEqual(set(auths[first:]), {"Bearer tok-2"}, auths)
        self.assertIn("connected to InfluxDB at 'https://localhost:", a.stderr())
        self.assertNotIn("WARN", a.stderr())
        with self.fake.lock:
            lines = b"\n".join(b for p, _, b in self.fake.requests if b).decode().splitlines()
        self.assertTrue(all(l.startswith("test_counter,") for l in lines), lines[:3])
        self.assertEqual(len(lines), a.count())

    def test_token_file_removed(self):
        """A token file that disappears fails the requests with a clear
        error, without a restart; once it is back, they pass again, and the
        measurements kept meanwhile arrive: every point, once."""
        a = self.agent(self.influx(max_points=100000))
        a.wait_ready()
        wait_until(lambda: self.fake.auths("/api/v2/write"), 30, "a write")
        os.unlink(self.token_file)
        wait_until(lambda: f"cannot read the bearer token from '{self.token_file}': No such "
                   "file or directory" in a.stderr(), 30, "the error in the log")
        with self.fake.lock:
            before = len(self.fake.requests)
        with open(self.token_file, "w", encoding="utf-8") as f:
            f.write("tok-1")
        wait_until(lambda: len(self.fake.auths("/api/v2/write")) > before, 30, "writes again")
        self.assertEqual(a.stop(), 0, a.stderr())
        self.assertEqual(set(self.fake.auths()), {"Bearer tok-1"})
        with self.fake.lock:
            lines = b"\n".join(b for p, _, b in self.fake.requests if b).decode().splitlines()
        self.assertEqual(len(lines), a.count())
        self.assertEqual(len(set(lines)), len(lines))

    def tls12_fake(self):
        self.fake.close()
        self.fake = TlsFake(self.pki, "tok-1", tls12=True)
        self.addCleanup(self.fake.close)

    def test_without_client_certificate(self):
        self.tls12_fake()
        tls = f'tls_ca = "{self.pki["ca"]}"\n'
        err = self.failed_start(self.influx(tls=tls))
        self.assertIn("the server refused the TLS connection, likely for the client "
                      "certificate: set tls_client_cert and tls_client_key", err)
        self.assertEqual(self.fake.auths(), [])

    def test_client_certificate_of_another_ca(self):
        self.tls12_fake()
        tls = (f'tls_ca = "{self.pki["ca"]}"\n'
               f'tls_client_cert = "{self.pki["rogue_cert"]}"\n'
               f'tls_client_key = "{self.pki["rogue_key"]}"\n')
        err = self.failed_start(self.influx(tls=tls))
        self.assertIn("set tls_client_cert and tls_client_key", err)

    def test_without_token(self):
        err = self.failed_start(self.influx(auth=""))
        self.assertIn("InfluxDB at 'https://localhost:%d' (org 'o', bucket 'b') answered HTTP "
                      "401: {\"code\":\"unauthorized\",\"message\":\"unauthorized access\"}; "
                      "please check the host, credentials" % self.fake.port, err)
        with self.fake.lock:
            self.assertEqual([a for _, a, _ in self.fake.requests], [None])

    def test_without_ca(self):
        tls = (f'tls_client_cert = "{self.pki["client_cert"]}"\n'
               f'tls_client_key = "{self.pki["client_key"]}"\n')
        err = self.failed_start(self.influx(tls=tls))
        self.assertIn("the server's certificate is not trusted (or does not name this host): "
                      "set tls_ca to the PEM file of the CA that signed it", err)

    def test_insecure(self):
        tls = (f'tls_insecure = true\n'
               f'tls_client_cert = "{self.pki["client_cert"]}"\n'
               f'tls_client_key = "{self.pki["client_key"]}"\n')
        a = self.agent(self.influx(tls=tls))
        a.wait_ready()
        wait_until(lambda: self.fake.auths("/api/v2/write"), 30, "a write")
        self.assertEqual(a.stop(), 0, a.stderr())
        self.assertIn("WARN  influxdb: INSECURE: tls_insecure = true, the certificate of InfluxDB "
                      f"at 'https://localhost:{self.fake.port}' is NOT verified", a.stderr())

    def test_opentelemetry_http(self):
        with self.fake.lock:
            self.fake.tokens = {"otlp secret"}
        a = self.agent(f"""\
[plugins.test-source]
poll_interval = "100ms"

[plugins.opentelemetry]
collector_host = "https://127.0.0.1:{self.fake.port}"
protocol = "http/protobuf"
max_buffered_points = 0
tls_ca = "{self.pki["ca"]}"
tls_client_cert = "{self.pki["client_cert"]}"
tls_client_key = "{self.pki["client_key"]}"
bearer_token = "otlp secret"
""")
        a.wait_ready()
        wait_until(lambda: self.fake.auths("/v1/metrics"), 30, "an export")
        self.assertEqual(a.stop(), 0, a.stderr())
        self.assertEqual(set(self.fake.auths("/v1/metrics")), {"Bearer otlp secret"})

    def test_contradictory_options(self):
        cases = [
            (self.influx(auth=f'bearer_token = "x"\nbearer_token_file = "{self.token_file}"\n'),
             "bearer_token_file: set either bearer_token or bearer_token_file, not both"),
            (self.influx(host="http://localhost:1"),
             "tls_ca: TLS options need an https:// URL, but host is 'http://localhost:1'"),
            (self.influx(auth='bearer_token_file = "/nonexistent/token"\n'),
             "cannot read a token from '/nonexistent/token': No such file or directory"),
            (self.influx(auth='bearer_token = "x"\nusername = "u"\n'),
             "set either a bearer token or a username and password"),
        ]
        for config, want in cases:
            err = self.failed_start(config)
            self.assertIn(want, err)
            self.assertIn("alumet-config.toml:", err)
            self.assertIn("plugins.influxdb.", err)
        err = self.failed_start('[plugins.opentelemetry]\n'
                                'collector_host = "https://localhost:1"\n'
                                'bearer_token = "x"\n'
                                '[plugins.opentelemetry.headers]\n'
                                'authorization = "Bearer y"\n')
        self.assertIn("plugins.opentelemetry.headers: an Authorization header besides a bearer "
                      "token: keep one of them", err)


if __name__ == "__main__":
    run_tests()
