# SPDX-License-Identifier: MIT
"""The opentelemetry plugin against a real gRPC server: Debian's grpcio
(python3-grpcio) serving opentelemetry.proto.collector.metrics.v1.
MetricsService/Export, its messages compiled by protoc (protobuf-compiler,
python3-protobuf) from the vendored .proto files. Every field of every
export is decoded by the protobuf runtime and checked; gRPC statuses:
UNAVAILABLE is retried, INVALID_ARGUMENT dropped and counted; startup
refusal (UNIMPLEMENTED); partial success. Skipped when grpcio, protobuf or
protoc are absent (scripts/install-deps.sh installs them)."""

import concurrent.futures
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from e2e_http import AgentTestCase, free_port, run_tests, wait_until
from e2e_tls import have_openssl, make_pki

PROTO_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto")
SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"
API_KEY = "k3y with spaces"

grpc = None
pb = None
_missing = None


def load():
    """Import grpc and compile the OTLP messages (once)."""
    global grpc, pb, _missing
    if grpc or _missing:
        return
    try:
        grpc = importlib.import_module("grpc")
        importlib.import_module("google.protobuf")
    except ImportError as e:
        _missing = f"{e.name} is not installed (Debian: python3-grpcio, python3-protobuf)"
        return
    protoc = shutil.which("protoc")
    if not protoc:
        _missing = "protoc is not installed (Debian: protobuf-compiler)"
        return
    out = tempfile.mkdtemp(prefix="alumet-otel-pb-")
    protos = [os.path.join("opentelemetry", "proto", d) for d in (
        "common/v1/common.proto", "resource/v1/resource.proto", "metrics/v1/metrics.proto",
        "collector/metrics/v1/metrics_service.proto")]
    subprocess.run([protoc, "-I", PROTO_ROOT, "--python_out", out, *protos], check=True)
    sys.path.insert(0, out)
    pb = importlib.import_module("opentelemetry.proto.collector.metrics.v1.metrics_service_pb2")


class Collector:
    """A gRPC server on 127.0.0.1 with MetricsService/Export. policy(n,
    request, context) for the n-th non-empty request (0-based) may abort the
    call or return a response; None: an empty ExportMetricsServiceResponse."""

    def __init__(self, policy=None, port=0, metadata=None, tls=None, pki=None):
        self.policy = policy
        self.metadata = metadata if metadata is not None else {"api-key": API_KEY}
        self.lock = threading.Lock()
        self.requests = []  # (request, accepted)
        self.errors = []
        self.peers = set()
        self.data_requests = 0
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.method_handlers_generic_handler(SERVICE, {
            "Export": grpc.unary_unary_rpc_method_handler(
                self.export,
                request_deserializer=pb.ExportMetricsServiceRequest.FromString,
                response_serializer=pb.ExportMetricsServiceResponse.SerializeToString)})
        self.server.add_generic_rpc_handlers((handler,))
        if pki:  # TLS, a client certificate of the test CA required
            def read(name):
                with open(pki[name], "rb") as f:
                    return f.read()
            creds = grpc.ssl_server_credentials(
                [(read("server_key"), read("server_cert"))], root_certificates=read("ca"),
                require_client_auth=True)
        elif tls:  # (private key PEM, certificate chain PEM)
            creds = grpc.ssl_server_credentials([tls])
        if pki or tls:
            self.port = self.server.add_secure_port(f"127.0.0.1:{port}", creds)
        else:
            self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        self.server.start()

    def export(self, request, context):
        md = dict(context.invocation_metadata())
        for k, v in self.metadata.items():
            if md.get(k) != v:
                self.errors.append(f"metadata {k}: {md.get(k)!r}")
        with self.lock:
            self.peers.add(context.peer())
            n = self.data_requests
            empty = not request.resource_metrics
            if not empty:
                self.data_requests += 1
            self.requests.append([request, False])
            entry = self.requests[-1]
        response = self.policy(n, request, context) if self.policy and not empty else None
        entry[1] = True  # an abort raised above: not accepted
        return response if response is not None else pb.ExportMetricsServiceResponse()

    def accepted(self):
        with self.lock:
            return [r for r, ok in self.requests if ok and r.resource_metrics]

    def points(self):
        return [(m, dp) for r in self.accepted()
                for m in r.resource_metrics[0].scope_metrics[0].metrics
                for dp in m.gauge.data_points]

    def close(self):
        self.server.stop(0).wait()


def config(port, extra="", headers=True, scheme="http"):
    text = f"""\
[plugins.test-source]
poll_interval = "10ms"
points_per_poll = 5
count_file = "count"

[plugins.opentelemetry]
collector_host = "{scheme}://127.0.0.1:{port}"
{extra}"""
    if headers:
        text += f'\n[plugins.opentelemetry.headers]\napi-key = "{API_KEY}"\n'
    return text


class TestGrpc(AgentTestCase):
    tmp_prefix = "alumet-otel-grpc-"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        load()
        if _missing:
            raise unittest.SkipTest(_missing)

    def collector(self, **kw):
        c = Collector(**kw)
        self.addCleanup(c.close)
        return c

    def assert_all_points(self, c, agent, t_end, name="test_counter_alumet", unit=""):
        self.assertEqual(c.errors, [])
        for r in c.accepted():
            self.assertEqual(len(r.resource_metrics), 1)
            rm = r.resource_metrics[0]
            self.assertEqual(rm.schema_url, "")
            self.assertEqual([(a.key, a.value.WhichOneof("value"), a.value.string_value)
                              for a in rm.resource.attributes],
                             [("service.name", "string_value", "alumet-otlp-grpc")])
            self.assertEqual(len(rm.scope_metrics), 1)
            sm = rm.scope_metrics[0]
            self.assertEqual((sm.scope.name, sm.scope.version), ("alumet", "0.1.0"))
            self.assertEqual([(a.key, a.value.string_value) for a in sm.scope.attributes],
                             [("tool", "alumet")])
            self.assertEqual(len(sm.metrics), 1)
            m = sm.metrics[0]
            self.assertEqual(m.name, name)
            self.assertEqual(m.description, "sequence number of the point, from 0")
            self.assertEqual(m.unit, unit)
            self.assertEqual(m.WhichOneof("data"), "gauge")
        values = []
        for _, dp in c.points():
            self.assertEqual([(a.key, a.value.string_value) for a in dp.attributes],
                             [("resource_consumer_id", "empty"),
                              ("resource_consumer_kind", "local_machine"),
                              ("resource_id", "empty"), ("resource_kind", "local_machine")])
            self.assertEqual(dp.start_time_unix_nano, 0)
            self.assertGreaterEqual(dp.time_unix_nano, agent.t_start_ns)
            self.assertLessEqual(dp.time_unix_nano, t_end)
            self.assertEqual(dp.WhichOneof("value"), "as_double")
            values.append(dp.as_double)
        count = agent.count()
        self.assertGreater(count, 0)
        self.assertEqual(values, [float(i) for i in range(count)])

    def test_exports_every_point(self):
        c = self.collector()
        agent = self.agent(config(c.port))
        agent.wait_ready()
        wait_until(lambda: len(c.points()) >= 100, 10, "100 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(c, agent, time.time_ns())
        # the startup check is an empty export, first
        self.assertEqual(c.requests[0][0], pb.ExportMetricsServiceRequest())
        err = agent.stderr()
        self.assertIn(f"INFO  opentelemetry: connected to the OTLP collector at "
                      f"'http://127.0.0.1:{c.port}/{SERVICE}/Export' (gRPC)", err)
        self.assertNotIn("ERROR", err)
        self.assertNotIn("WARN", err)

    def make_tls(self):
        """A CA and a server certificate for 127.0.0.1 signed by it (openssl);
        returns (CA path, (key PEM, certificate PEM))."""
        if not shutil.which("openssl"):
            self.skipTest("openssl is not installed")
        d = self.dir

        def run(*args):
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=alumet test CA")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=127.0.0.1")
        with open(os.path.join(d, "san.ext"), "w") as f:
            f.write("subjectAltName = IP:127.0.0.1\n")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
        with open(os.path.join(d, "server.key"), "rb") as f:
            key = f.read()
        with open(os.path.join(d, "server.pem"), "rb") as f:
            cert = f.read()
        return os.path.join(d, "ca.pem"), (key, cert)

    def test_tls_with_ca(self):
        ca, pair = self.make_tls()
        c = self.collector(tls=pair)
        agent = self.agent(config(c.port, f'tls_ca = "{ca}"\n', scheme="https"))
        agent.wait_ready()
        wait_until(lambda: len(c.points()) >= 50, 10, "50 points over TLS")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(c, agent, time.time_ns())
        err = agent.stderr()
        self.assertIn(f"INFO  opentelemetry: connected to the OTLP collector at "
                      f"'https://127.0.0.1:{c.port}/{SERVICE}/Export' (gRPC)", err)
        self.assertNotIn("ERROR", err)
        self.assertNotIn("WARN", err)

    def test_tls_without_ca_is_refused(self):
        # the system's CAs do not know the test CA: no export, and the agent says so
        _, pair = self.make_tls()
        c = self.collector(tls=pair)
        agent = self.agent(config(c.port, "max_buffered_points = 0\n", scheme="https"))
        # waiting cannot fix an untrusted certificate: the start fails and says what to set
        agent.proc.wait(60)
        self.assertEqual(agent.proc.returncode, 1, agent.stderr())
        self.assertIn(f"cannot reach the OTLP collector at "
                      f"'https://127.0.0.1:{c.port}/{SERVICE}/Export': SSL certificate problem: "
                      "unable to get local issuer certificate; the server's certificate is not "
                      "trusted (or does not name this host): set tls_ca", agent.stderr())
        self.assertEqual(c.points(), [])

    def test_tls_client_certificate_and_bearer_token(self):
        """OTLP/gRPC over TLS (ALPN h2) to a server that requires a client
        certificate of the test CA, with a bearer token in the metadata."""
        if not have_openssl():
            self.skipTest("no openssl binary")
        pki = make_pki(self.dir)
        c = self.collector(pki=pki, metadata={"authorization": "Bearer grpc t0ken"})
        tls = (f'tls_ca = "{pki["ca"]}"\ntls_client_cert = "{pki["client_cert"]}"\n'
               f'tls_client_key = "{pki["client_key"]}"\nbearer_token = "grpc t0ken"\n')
        agent = self.agent(config(c.port, tls, headers=False).replace(
            f"http://127.0.0.1:{c.port}", f"https://localhost:{c.port}"))
        agent.wait_ready()
        wait_until(lambda: len(c.points()) >= 20, 10, "20 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(c, agent, time.time_ns())
        self.assertIn(f"connected to the OTLP collector at 'https://localhost:{c.port}/{SERVICE}"
                      "/Export' (gRPC)", agent.stderr())

        # without the client certificate: TLS 1.3 refuses it after the
        # handshake, seen as the server's alert (the start fails) or as a
        # reset (the output starts and waits): either way, the log says what
        # to set, and the server got nothing
        c2 = self.collector(pki=pki, metadata={})
        agent = self.agent(config(c2.port, f'tls_ca = "{pki["ca"]}"\n', headers=False).replace(
            f"http://127.0.0.1:{c2.port}", f"https://localhost:{c2.port}"))
        wait_until(lambda: agent.proc.poll() is not None or "starting anyway" in agent.stderr(),
                   60, "the start to fail or to go on")
        agent.kill()
        self.assertIn("set tls_client_cert and tls_client_key", agent.stderr())
        self.assertEqual(c2.requests, [])

    def test_options(self):
        c = self.collector(metadata={})
        agent = self.agent(config(c.port, 'protocol = "grpc"\nprefix = "p."\nsuffix = ""\n'
                                  "use_unit_display_name = false\n", headers=False))
        agent.wait_ready()
        wait_until(lambda: len(c.points()) >= 20, 10, "20 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(c, agent, time.time_ns(), name="p.test_counter", unit="1")

    def test_append_unit_to_metric_name(self):
        # the user book's option (upstream rejects it): name_<unit> before the suffix
        c = self.collector()
        agent = self.agent(config(c.port, "append_unit_to_metric_name = true\n"
                                  "use_unit_display_name = false\n"))
        agent.wait_ready()
        wait_until(lambda: len(c.points()) >= 20, 10, "20 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(c, agent, time.time_ns(), name="test_counter_1_alumet", unit="1")

    def test_push_interval_batches(self):
        # push_interval_seconds (the user book's option): the buffers of a
        # period go in one export, and what is left is pushed at shutdown
        c = self.collector()
        agent = self.agent(config(c.port, "push_interval_seconds = 1\n"))
        agent.wait_ready()
        t0 = time.monotonic()
        wait_until(lambda: len(c.accepted()) >= 1, 10, "a first export")
        time.sleep(0.5)
        elapsed = time.monotonic() - t0
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(c, agent, time.time_ns())  # nothing lost, in order
        exports = c.accepted()
        # the source flushes every 10 ms: one export per buffer would be ~100 a second
        self.assertLessEqual(len(exports), int(elapsed) + 3, len(exports))
        sizes = [len(r.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points)
                 for r in exports]
        self.assertGreaterEqual(sizes[0], 5 * 10, sizes)  # at least ten polls in the first
        self.assertNotIn("ERROR", agent.stderr())

    def test_push_interval_batch_is_retried(self):
        refused = []

        def policy(n, request, context):
            if n == 0:
                refused.append(len(request.resource_metrics[0].scope_metrics[0].metrics[0]
                                   .gauge.data_points))
                context.abort(grpc.StatusCode.UNAVAILABLE, "busy: try later")
            return None

        c = self.collector(policy=policy)
        agent = self.agent(config(c.port, "push_interval_seconds = 0.5\n"))
        agent.wait_ready()
        wait_until(lambda: "recovered" in agent.stderr(), 20, "the delivery to recover")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(c, agent, time.time_ns())
        # the refused batch came again, whole, first
        accepted = c.accepted()
        first = accepted[0].resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points
        self.assertEqual(len(first), refused[0])
        self.assertEqual(first[0].as_double, 0.0)
        self.assertIn("INFO  pipeline: delivery to opentelemetry/out recovered (0 points dropped "
                      "in total)", agent.stderr())

    def test_unavailable_is_retried(self):
        t_fail = []

        def policy(n, request, context):
            if not t_fail:
                t_fail.append(time.monotonic())
            if time.monotonic() - t_fail[0] < 1.2:
                context.abort(grpc.StatusCode.UNAVAILABLE, "busy: try later")
            return None

        c = self.collector(policy=policy)
        agent = self.agent(config(c.port))
        agent.wait_ready()
        wait_until(lambda: "recovered" in agent.stderr(), 20, "the delivery to recover")
        time.sleep(0.2)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(c, agent, time.time_ns())
        err = agent.stderr()
        self.assertIn(f"ERROR pipeline: cannot write to opentelemetry/out: the OTLP collector at "
                      f"'http://127.0.0.1:{c.port}/{SERVICE}/Export' answered gRPC status 14 "
                      f"UNAVAILABLE: busy: try later; keeping the data and retrying", err)
        self.assertIn("INFO  pipeline: delivery to opentelemetry/out recovered (0 points dropped "
                      "in total)", err)

    def test_invalid_argument_is_dropped(self):
        refused = []

        def policy(n, request, context):
            if n in (1, 2):
                refused.append(len(request.resource_metrics[0].scope_metrics[0].metrics[0]
                                   .gauge.data_points))
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad data point ✓")
            return None

        c = self.collector(policy=policy)
        agent = self.agent(config(c.port))
        agent.wait_ready()
        wait_until(lambda: len(c.points()) >= 50, 10, "50 points")
        self.assertEqual(agent.stop(), 1, agent.stderr())  # points were lost
        self.assertEqual(c.errors, [])
        values = [dp.as_double for _, dp in c.points()]
        self.assertEqual(len(values) + sum(refused), agent.count())
        self.assertEqual(values, sorted(set(values)))
        err = agent.stderr()
        self.assertIn(f"ERROR opentelemetry: {refused[0]} points were refused by the collector, "
                      f"dropping them: the OTLP collector at 'http://127.0.0.1:{c.port}/{SERVICE}"
                      f"/Export' answered gRPC status 3 INVALID_ARGUMENT: bad data point ✓", err)
        self.assertEqual(err.count("refused by the collector"), 1, err)

    def test_partial_success(self):
        def policy(n, request, context):
            if n == 0:
                r = pb.ExportMetricsServiceResponse()
                r.partial_success.rejected_data_points = 2
                r.partial_success.error_message = "too old"
                return r
            return None

        c = self.collector(policy=policy)
        agent = self.agent(config(c.port))
        agent.wait_ready()
        wait_until(lambda: len(c.points()) >= 20, 10, "20 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assertIn("ERROR opentelemetry: 2 points were rejected by the collector (partial "
                      "success): 'too old'", agent.stderr())

    def test_startup_unimplemented(self):
        # a gRPC server without the metrics service
        server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=1))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self.addCleanup(lambda: server.stop(0).wait())
        agent = self.agent(config(port))
        self.assertNotEqual(agent.wait_exit(), 0)
        self.assertIn(f"the OTLP collector at 'http://127.0.0.1:{port}/{SERVICE}/Export' "
                      f"answered gRPC status 12 UNIMPLEMENTED: Method not found!; please check "
                      f"collector_host (the URL of an OTLP/gRPC receiver), protocol and the "
                      f"headers in the configuration", agent.stderr())

    def test_down_at_start(self):
        port = free_port()
        agent = self.agent(config(port))
        agent.wait_ready()
        self.assertIn(f"WARN  opentelemetry: cannot reach the OTLP collector at "
                      f"'http://127.0.0.1:{port}/{SERVICE}/Export': ", agent.stderr())
        time.sleep(1.0)
        c = self.collector(port=port)
        wait_until(lambda: "recovered" in agent.stderr(), 20, "the delivery to recover")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(c, agent, time.time_ns())


SYSTEM_PYTHON = "/usr/bin/python3"

if __name__ == "__main__":
    load()
    if _missing and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and \
            os.access(SYSTEM_PYTHON, os.X_OK):
        # Debian's python3-grpcio is installed for the system interpreter,
        # not for another one first in PATH (pyenv, a virtualenv)
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, *sys.argv])
    if _missing:
        print(f"SKIP: {_missing}")
        sys.exit(77)
    run_tests()
