# SPDX-License-Identifier: MIT
"""The influxdb plugin against a protocol-level fake of the InfluxDB v2 write
API (http.server, started by the test): the request (path, query, headers),
every line of the line protocol, the connection check, keep-alive, and the
delivery policy (retries on 5xx/429, timeouts and refused connections, drops
on 400, startup refused on 401)."""

import time
import urllib.parse

from e2e_http import (GARBAGE, SKIP, AgentTestCase, FakeServer, free_port, run_tests,
                      wait_until)
from influxdb_test_lib import parse_line

TOKEN = "s3cr=t tok"
ORG = "my org"
BUCKET = "b&1/x"


class FakeInflux(FakeServer):
    """POST /api/v2/write. policy(n, body) -> (status, body) for the n-th data
    request (0-based, empty-body checks are not counted), GARBAGE for a reply
    that is not HTTP, or None to answer 204. Every problem with a request is
    recorded in errors."""

    def __init__(self, port=0, policy=None, delay=None, slow=0):
        self.requests = []      # (body, accepted)
        self.lines = []         # parsed lines of accepted requests
        self.data_requests = 0
        self.policy = policy
        self.delay = delay      # delay(n) -> seconds to wait before answering
        self.slow = slow        # seconds each data request takes, stored all the same
        super().__init__(port)

    def handle(self, req):
        url = urllib.parse.urlsplit(req.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True, strict_parsing=True)
        self.check(req, "path", url.path == "/api/v2/write")
        self.check(req, "query", query == {"org": [ORG], "bucket": [BUCKET], "precision": ["ns"]})
        self.check(req, "authorization", req.headers.get("Authorization") == "Token " + TOKEN)
        self.check(req, "content-type",
                   req.headers.get("Content-Type") == "text/plain; charset=utf-8")
        self.check(req, "accept", req.headers.get("Accept") == "application/json")
        self.check(req, "expect", req.headers.get("Expect") is None)
        length = int(req.headers.get("Content-Length", "-1"))
        self.check(req, "content-length", length >= 0)
        body = req.rfile.read(max(length, 0)).decode("utf-8")
        with self.lock:
            self.connections.add(req.client_address)
            n = self.data_requests
            if body:
                self.data_requests += 1
        answer = None
        if body and self.delay and self.delay(n):
            time.sleep(self.delay(n))
            # the client gave up: it must send the same data again
            with self.lock:
                self.requests.append((body, False))
            self.reply(req, 503, "")
            return
        if body and self.slow:
            time.sleep(self.slow)
        if body and self.policy:
            answer = self.policy(n, body)
        if answer == GARBAGE:
            with self.lock:
                self.requests.append((body, False))
            self.garbage(req)
            return
        accepted = answer is None
        with self.lock:
            self.requests.append((body, accepted))
            if accepted and body:
                self.check(req, "trailing newline", not body.endswith("\n"))
                for line in body.split("\n"):
                    try:
                        self.lines.append(parse_line(line))
                    except ValueError as e:
                        self.errors.append(str(e))
        if accepted:
            self.reply(req, 204, "")
        else:
            self.reply(req, *answer)

    def reply(self, req, status, text):
        data = text.encode()
        try:
            req.send_response(status)
            req.send_header("Content-Type", "application/json; charset=utf-8")
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout)

    def values(self):
        with self.lock:
            return [fields[-1][1][1] for _, _, fields, _ in self.lines]


def config(port, extra="", poll="10ms", per_poll=5):
    return f"""\
[plugins.test-source]
poll_interval = "{poll}"
points_per_poll = {per_poll}
count_file = "count"

[plugins.influxdb]
host = "http://127.0.0.1:{port}/"
token = "{TOKEN}"
org = "{ORG}"
bucket = "{BUCKET}"
attributes_as = "field"
{extra}"""


class TestInfluxV2(AgentTestCase):
    tmp_prefix = "alumet-influxdb-"

    def fake(self, **kw):
        f = FakeInflux(**kw)
        self.addCleanup(f.close)
        return f

    def assert_all_points(self, fake, agent, t_end):
        """Every point test-source made arrived once, in order, each line
        exactly as the plugin must write it."""
        count = agent.count()
        self.assertEqual(fake.errors, [])
        self.assertGreater(count, 0)
        for measurement, tags, fields, ts in fake.lines:
            self.assertEqual(measurement, "test_counter")
            self.assertEqual(tags, [("resource_kind", "local_machine"),
                                    ("resource_consumer_kind", "local_machine")])
            self.assertEqual(len(fields), 1)
            self.assertEqual(fields[0][0], "value")
            self.assertEqual(fields[0][1][0], "u")
            self.assertGreaterEqual(ts, agent.t_start_ns)
            self.assertLessEqual(ts, t_end)
        values = fake.values()
        self.assertEqual(len(values), count, f"{len(values)} points arrived, {count} made")
        self.assertEqual(values, list(range(count)))
        # points of one poll share their timestamp, polls go forward
        stamps = [ts for _, _, _, ts in fake.lines]
        self.assertEqual(stamps, sorted(stamps))

    def test_writes_every_point(self):
        fake = self.fake()
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: len(fake.values()) >= 100, 10, "100 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(fake, agent, time.time_ns())
        # the connection check is an empty write, first
        self.assertEqual(fake.requests[0], ("", True))
        self.assertTrue(all(body for body, _ in fake.requests[1:]))
        # one handle, one kept-alive connection for the check and every write
        self.assertEqual(len(fake.connections), 1, fake.connections)
        err = agent.stderr()
        self.assertIn(f"INFO  influxdb: connected to InfluxDB at 'http://127.0.0.1:{fake.port}' "
                      f"(org '{ORG}', bucket '{BUCKET}')", err)
        self.assertNotIn("ERROR", err)
        self.assertNotIn("WARN", err)

    def test_retries_server_errors(self):
        t_fail = []

        def policy(n, body):
            # every write fails for 1.2 s after the first one: 503, 429, 500, 502, 504
            if not t_fail:
                t_fail.append(time.monotonic())
            if time.monotonic() - t_fail[0] < 1.2:
                return ([503, 429, 500, 502, 504][n % 5], '{"code":"unavailable"}')
            return None

        fake = self.fake(policy=policy)
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: "recovered" in agent.stderr(), 20, "the delivery to recover")
        time.sleep(0.2)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(fake, agent, time.time_ns())
        self.assertGreater(sum(1 for _, ok in fake.requests if not ok), 0)
        err = agent.stderr()
        self.assertIn(f"ERROR pipeline: cannot write to influxdb/out: InfluxDB at "
                      f"'http://127.0.0.1:{fake.port}' (org '{ORG}', bucket '{BUCKET}') answered "
                      f"HTTP 503: {{\"code\":\"unavailable\"}}; keeping the data and retrying",
                      err)
        self.assertIn("INFO  pipeline: delivery to influxdb/out recovered (0 points dropped in "
                      "total)", err)

    def test_retries_timeouts(self):
        # the first data request gets no answer within request_timeout
        fake = self.fake(delay=lambda n: 1.0 if n == 0 else 0)
        agent = self.agent(config(fake.port, 'request_timeout = "200ms"\n'))
        agent.wait_ready()
        wait_until(lambda: "recovered" in agent.stderr(), 20, "the delivery to recover")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(fake, agent, time.time_ns())
        self.assertIn("Operation timed out after", agent.stderr())

    def test_retries_garbage_reply(self):
        # one reply that is not HTTP is a passing fault: kept and sent again
        fake = self.fake(policy=lambda n, body: GARBAGE if n == 0 else None)
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: "recovered" in agent.stderr(), 20, "the delivery to recover")
        wait_until(lambda: len(fake.values()) >= 50, 10, "50 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        # every point arrived exactly once, in order
        self.assert_all_points(fake, agent, time.time_ns())
        self.assertEqual([ok for _, ok in fake.requests].count(False), 1)
        err = agent.stderr()
        self.assertIn(f"ERROR pipeline: cannot write to influxdb/out: cannot reach InfluxDB at "
                      f"'http://127.0.0.1:{fake.port}' (org '{ORG}', bucket '{BUCKET}'): "
                      f"Received HTTP/0.9 when not allowed; keeping the data and retrying", err)
        self.assertIn("INFO  pipeline: delivery to influxdb/out recovered (0 points dropped in "
                      "total)", err)
        self.assertNotIn("failed and stops", err)

    def test_slow_server_few_duplicates(self):
        # The server takes 1 s per write and stores it even when the client
        # gave up after request_timeout: what timed out is sent again (at
        # least once; InfluxDB overwrites identical points), with a time limit
        # that doubles, so only the first write is stored more than once.
        fake = self.fake(slow=1.0)
        text = config(fake.port, 'request_timeout = "300ms"\n', poll="100ms", per_poll=1)
        # a buffer every 1.5 s: the slow server keeps up once the limit is right
        agent = self.agent(text.replace('count_file = "count"\n',
                                        'count_file = "count"\nflush_interval = "1500ms"\n'))
        agent.wait_ready()
        wait_until(lambda: "recovered" in agent.stderr(), 30, "the delivery to recover")

        def bodies():
            with fake.lock:
                return [body for body, ok in fake.requests if ok and body]

        wait_until(lambda: len(set(bodies())) >= 4, 30, "4 distinct writes")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        count = agent.count()
        values = fake.values()
        self.assertEqual(sorted(set(values)), list(range(count)), "points missing")
        # the first write is stored again after the 300 ms and 600 ms limits
        # (1.2 s is enough, unless the machine is very loaded): a copy or two,
        # not one per write (which a fixed limit gives, and no recovery)
        stored = bodies()
        self.assertGreaterEqual(stored.count(stored[0]), 2, stored)
        self.assertLessEqual(len(stored) - len(set(stored)), 3, "many writes stored twice")
        err = agent.stderr()
        self.assertIn("the time limit of a request (request_timeout) is raised to 600 ms", err)
        self.assertIn("the time limit of a request (request_timeout) is raised to 1200 ms", err)

    def test_drops_refused_data(self):
        # the 2nd data request is refused (a bad line): dropped, said, the rest goes on
        refused = []

        def policy(n, body):
            if n == 1:
                refused.append(body.count("\n") + 1)
                return (400, '{"code":"invalid","message":"unable to parse"}')
            return None

        fake = self.fake(policy=policy)
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: len(fake.values()) >= 50, 10, "50 points")
        self.assertEqual(agent.stop(), 1, agent.stderr())  # points were lost
        self.assertEqual(fake.errors, [])
        count = agent.count()
        values = fake.values()
        self.assertEqual(len(values) + refused[0], count)
        self.assertEqual(values, sorted(set(values)))
        self.assertIn(f"ERROR influxdb: {refused[0]} points were refused by InfluxDB, dropping "
                      f"them: InfluxDB at 'http://127.0.0.1:{fake.port}' (org '{ORG}', bucket "
                      f"'{BUCKET}') answered HTTP 400: "
                      '{"code":"invalid","message":"unable to parse"}', agent.stderr())

    def test_startup_refused(self):
        fake = self.fake(policy=None)
        fake.check = lambda *a: None

        def unauthorized(req):
            req.rfile.read(int(req.headers.get("Content-Length", "0")))
            fake.reply(req, 401, '{"code":"unauthorized","message":"unauthorized access"}')

        fake.handle = unauthorized
        agent = self.agent(config(fake.port))
        self.assertNotEqual(agent.wait_exit(), 0)
        self.assertIn(f"answered HTTP 401: {{\"code\":\"unauthorized\",\"message\":"
                      f"\"unauthorized access\"}}; please check the host, credentials and org "
                      f"and bucket in the configuration", agent.stderr())

    def test_down_at_start(self):
        port = free_port()
        agent = self.agent(config(port))
        agent.wait_ready()
        self.assertIn(f"WARN  influxdb: cannot reach InfluxDB at 'http://127.0.0.1:{port}' "
                      f"(org '{ORG}', bucket '{BUCKET}'): ", agent.stderr())
        self.assertIn("starting anyway: the measurements are kept (up to 1000000 points) and "
                      "sent when InfluxDB is back", agent.stderr())
        time.sleep(1.0)
        fake = self.fake(port=port)
        wait_until(lambda: "recovered" in agent.stderr(), 20, "the delivery to recover")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assert_all_points(fake, agent, time.time_ns())
        self.assertIn("recovered (0 points dropped in total)", agent.stderr())

    def test_no_buffering(self):
        # max_buffered_points = 0: upstream's behaviour, a failed write is dropped
        fake = self.fake(policy=lambda n, body: (503, "busy") if n < 3 else None)
        agent = self.agent(config(fake.port, "max_buffered_points = 0\n"))
        agent.wait_ready()
        wait_until(lambda: len(fake.values()) >= 50, 10, "50 points")
        self.assertEqual(agent.stop(), 1, agent.stderr())  # points were lost
        self.assertEqual(fake.errors, [])
        values = fake.values()
        self.assertLess(len(values), agent.count())
        self.assertEqual(values, list(range(agent.count() - len(values), agent.count())))
        self.assertIn("ERROR pipeline: non-fatal error when writing to influxdb/out (5 points "
                      "dropped): InfluxDB at", agent.stderr())


if __name__ == "__main__":
    run_tests(all_skipped_exit=SKIP)
