# SPDX-License-Identifier: MIT
"""The opentelemetry plugin against a protocol-level fake OTLP/HTTP collector
(http.server, started by the test, with the strict protobuf decoder of
otel_test_lib): the request (path, headers), every field of every export,
the startup check, keep-alive, and the OTLP retry rules (429/502/503/504
and refused connections retried, other statuses dropped, partial success
reported)."""

import time

from e2e_http import GARBAGE, AgentTestCase, FakeServer, free_port, run_tests, wait_until
from otel_test_lib import DecodeError, decode, export_response, rpc_status

API_KEY = "k3y with spaces"


class FakeCollector(FakeServer):
    """POST /v1/metrics. policy(n, request) -> (status, content type, body)
    for the n-th non-empty request (0-based), GARBAGE for a reply that is not
    HTTP, or None for 200 with an empty ExportMetricsServiceResponse. Every
    problem is recorded in errors."""

    def __init__(self, port=0, policy=None, headers=None):
        self.requests = []   # (decoded request, accepted)
        self.data_requests = 0
        self.policy = policy
        self.headers = headers if headers is not None else {"api-key": API_KEY}
        super().__init__(port)

    def handle(self, req):
        self.check(req, "path", req.path == "/v1/metrics")
        self.check(req, "content-type", req.headers.get("Content-Type") == "application/x-protobuf")
        for k, v in self.headers.items():
            self.check(req, k, req.headers.get(k) == v)
        length = int(req.headers.get("Content-Length", "-1"))
        self.check(req, "content-length", length >= 0)
        body = req.rfile.read(max(length, 0))
        try:
            decoded = decode(body)
        except DecodeError as e:
            self.errors.append(f"cannot decode the request: {e}")
            decoded = None
        with self.lock:
            self.connections.add(req.client_address)
            n = self.data_requests
            if body:
                self.data_requests += 1
        answer = self.policy(n, decoded) if body and self.policy else None
        with self.lock:
            self.requests.append((decoded, answer is None))
        if answer == GARBAGE:
            self.garbage(req)
            return
        if answer is None:
            answer = (200, "application/x-protobuf", export_response())
        status, ctype, data = answer
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def accepted(self):
        with self.lock:
            return [r for r, ok in self.requests if ok and r]

    def points(self):
        """Every data point of the accepted requests, with its metric."""
        out = []
        for r in self.accepted():
            for metric in r["resource_metrics"][0]["scope_metrics"][0]["metrics"]:
                for dp in metric["gauge"]["data_points"]:
                    out.append((metric, dp))
        return out


def config(port, extra="", headers=True):
    text = f"""\
[plugins.test-source]
poll_interval = "10ms"
points_per_poll = 5
count_file = "count"

[plugins.opentelemetry]
collector_host = "http://127.0.0.1:{port}/"
protocol = "http/protobuf"
{extra}"""
    if headers:
        text += f'\n[plugins.opentelemetry.headers]\napi-key = "{API_KEY}"\n'
    return text


LOCAL_ATTRIBUTES = [
    {"key": "resource_consumer_id", "value": {"string_value": "empty"}},
    {"key": "resource_consumer_kind", "value": {"string_value": "local_machine"}},
    {"key": "resource_id", "value": {"string_value": "empty"}},
    {"key": "resource_kind", "value": {"string_value": "local_machine"}},
]


class TestCollector(AgentTestCase):
    tmp_prefix = "alumet-otel-"

    def fake(self, **kw):
        f = FakeCollector(**kw)
        self.addCleanup(f.close)
        return f

    def assert_all_points(self, fake, agent, t_end, name="test_counter_alumet", unit=None):
        """Every export has upstream's layout; every point test-source made
        arrived once, in order."""
        self.assertEqual(fake.errors, [])
        for r in fake.accepted():
            self.assertEqual(set(r), {"resource_metrics"})
            self.assertEqual(len(r["resource_metrics"]), 1)
            rm = r["resource_metrics"][0]
            self.assertEqual(set(rm), {"resource", "scope_metrics"})  # no schema_url
            self.assertEqual(rm["resource"], {"attributes": [
                {"key": "service.name", "value": {"string_value": "alumet-otlp-grpc"}}]})
            self.assertEqual(len(rm["scope_metrics"]), 1)
            sm = rm["scope_metrics"][0]
            self.assertEqual(set(sm), {"scope", "metrics"})
            self.assertEqual(sm["scope"], {"name": "alumet", "version": "0.1.0", "attributes": [
                {"key": "tool", "value": {"string_value": "alumet"}}]})
            self.assertEqual(len(sm["metrics"]), 1)
            m = sm["metrics"][0]
            expected = {"name": name, "description": "sequence number of the point, from 0",
                        "gauge": m["gauge"]}
            if unit:
                expected["unit"] = unit  # the display name of Unity is "", not written
            self.assertEqual(m, expected)
        values = []
        for _, dp in fake.points():
            self.assertEqual(set(dp), {"attributes", "time_unix_nano", "as_double"})
            self.assertEqual(dp["attributes"], LOCAL_ATTRIBUTES)
            self.assertGreaterEqual(dp["time_unix_nano"], agent.t_start_ns)
            self.assertLessEqual(dp["time_unix_nano"], t_end)
            values.append(dp["as_double"])
        count = agent.count()
        self.assertGreater(count, 0)
        self.assertEqual(len(values), count, f"{len(values)} points arrived, {count} made")
        self.assertEqual(values, [float(i) for i in range(count)])

    def test_exports_every_point(self):
        fake = self.fake()
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: len(fake.points()) >= 100, 10, "100 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(fake, agent, time.time_ns())
        # the startup check is an empty export, first
        self.assertEqual(fake.requests[0], ({}, True))
        self.assertEqual(len(fake.connections), 1, fake.connections)
        err = agent.stderr()
        self.assertIn(f"INFO  opentelemetry: connected to the OTLP collector at "
                      f"'http://127.0.0.1:{fake.port}/v1/metrics' (HTTP)", err)
        self.assertNotIn("ERROR", err)
        self.assertNotIn("WARN", err)

    def test_options(self):
        fake = self.fake(headers={})
        agent = self.agent(config(fake.port, 'prefix = "p."\nsuffix = ""\n'
                                  "use_unit_display_name = false\n"
                                  "add_attributes_to_labels = false\n", headers=False))
        agent.wait_ready()
        wait_until(lambda: len(fake.points()) >= 20, 10, "20 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(fake, agent, time.time_ns(), name="p.test_counter", unit="1")

    def test_retries(self):
        t_fail = []

        def policy(n, request):
            if not t_fail:
                t_fail.append(time.monotonic())
            if time.monotonic() - t_fail[0] < 1.2:
                return ([503, 429, 502, 504][n % 4], "application/x-protobuf",
                        rpc_status(14, "unavailable"))
            return None

        fake = self.fake(policy=policy)
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: "recovered" in agent.stderr(), 20, "the delivery to recover")
        time.sleep(0.2)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(fake, agent, time.time_ns())
        err = agent.stderr()
        self.assertIn(f"ERROR pipeline: cannot write to opentelemetry/out: the OTLP collector at "
                      f"'http://127.0.0.1:{fake.port}/v1/metrics' answered HTTP 503: unavailable; "
                      f"keeping the data and retrying", err)
        self.assertIn("INFO  pipeline: delivery to opentelemetry/out recovered (0 points dropped "
                      "in total)", err)

    def test_retries_garbage_reply(self):
        # one reply that is not HTTP is a passing fault: kept and sent again
        fake = self.fake(policy=lambda n, request: GARBAGE if n == 0 else None)
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: "recovered" in agent.stderr(), 20, "the delivery to recover")
        wait_until(lambda: len(fake.points()) >= 50, 10, "50 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        # every point arrived exactly once, in order
        self.assert_all_points(fake, agent, time.time_ns())
        self.assertEqual([ok for _, ok in fake.requests].count(False), 1)
        err = agent.stderr()
        self.assertIn(f"ERROR pipeline: cannot write to opentelemetry/out: cannot reach the OTLP "
                      f"collector at 'http://127.0.0.1:{fake.port}/v1/metrics': Received HTTP/0.9 "
                      f"when not allowed; keeping the data and retrying", err)
        self.assertIn("INFO  pipeline: delivery to opentelemetry/out recovered (0 points dropped "
                      "in total)", err)
        self.assertNotIn("failed and stops", err)

    def test_refused_data_is_dropped(self):
        refused = []

        def policy(n, request):
            if n in (1, 2):
                points = request["resource_metrics"][0]["scope_metrics"][0]["metrics"][0]
                refused.append(len(points["gauge"]["data_points"]))
                return (400, "application/x-protobuf", rpc_status(3, "bad data point"))
            return None

        fake = self.fake(policy=policy)
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: len(fake.points()) >= 50, 10, "50 points")
        self.assertEqual(agent.stop(), 1, agent.stderr())  # points were lost
        self.assertEqual(fake.errors, [])
        values = [dp["as_double"] for _, dp in fake.points()]
        self.assertEqual(len(values) + sum(refused), agent.count())
        self.assertEqual(values, sorted(set(values)))
        err = agent.stderr()
        # the first refusal is logged, the next one waits for the summary
        self.assertIn(f"ERROR opentelemetry: {refused[0]} points were refused by the collector, "
                      f"dropping them: the OTLP collector at 'http://127.0.0.1:{fake.port}"
                      f"/v1/metrics' answered HTTP 400: bad data point", err)
        self.assertEqual(err.count("refused by the collector"), 1, err)

    def test_partial_success(self):
        def policy(n, request):
            if n == 0:
                return (200, "application/x-protobuf", export_response(2, "too old"))
            return None

        fake = self.fake(policy=policy)
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: len(fake.points()) >= 20, 10, "20 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assertIn("ERROR opentelemetry: 2 points were rejected by the collector (partial "
                      "success): 'too old'", agent.stderr())

    def test_startup_refused(self):
        fake = self.fake(policy=None)

        def not_found(req):
            req.rfile.read(int(req.headers.get("Content-Length", "0")))
            req.send_response(404)
            req.send_header("Content-Type", "text/plain; charset=utf-8")
            req.send_header("Content-Length", "19")
            req.end_headers()
            req.wfile.write(b"404 page not found\n")

        fake.handle = not_found
        agent = self.agent(config(fake.port))
        self.assertNotEqual(agent.wait_exit(), 0)
        self.assertIn(f"the OTLP collector at 'http://127.0.0.1:{fake.port}/v1/metrics' answered "
                      f"HTTP 404: 404 page not found; please check collector_host (the base URL "
                      f"of an OTLP/HTTP receiver), protocol and the headers in the configuration",
                      agent.stderr())

    def test_down_at_start(self):
        port = free_port()
        agent = self.agent(config(port))
        agent.wait_ready()
        self.assertIn(f"WARN  opentelemetry: cannot reach the OTLP collector at "
                      f"'http://127.0.0.1:{port}/v1/metrics': ", agent.stderr())
        time.sleep(1.0)
        fake = self.fake(port=port)
        wait_until(lambda: "recovered" in agent.stderr(), 20, "the delivery to recover")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(fake, agent, time.time_ns())
        self.assertIn("recovered (0 points dropped in total)", agent.stderr())

    def test_grpc_port_warning(self):
        # (nothing listens there: the points are dropped at once)
        agent = self.agent(config(4317, "max_buffered_points = 0\n"))
        agent.wait_ready()
        # once points were lost, the agent must say so by its exit status
        wait_until(lambda: "points dropped): " in agent.stderr(), 20, "points to be dropped")
        self.assertIn("ERROR pipeline: non-fatal error when writing to opentelemetry/out (",
                      agent.stderr())
        self.assertEqual(agent.stop(), 1, agent.stderr())
        self.assertIn("WARN  opentelemetry: collector_host 'http://127.0.0.1:4317' names port "
                      "4317, the usual OTLP/gRPC port, with protocol = \"http/protobuf\" "
                      "(OTLP/HTTP is usually on port 4318)", agent.stderr())


if __name__ == "__main__":
    run_tests()
