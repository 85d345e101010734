# SPDX-License-Identifier: MIT
"""The kwollect-output plugin against a fake Kwollect API (http.server):
the POST, its basic authentication, every field of every element, and the
delivery policy (a 500 retried, a 400 dropped and counted)."""

import base64
import json
import time
import urllib.parse

from e2e_http import SKIP, AgentTestCase, FakeServer, run_tests, wait_until


class FakeKwollect(FakeServer):
    def __init__(self, policy=None, auth=None):
        self.policy = policy
        self.auth = auth
        self.elements = []
        self.posts = 0
        super().__init__()

    def handle(self, req):
        self.check(req, "path", urllib.parse.urlsplit(req.path).path == "/stable/sites/lyon/metrics")
        self.check(req, "content-type", req.headers.get("Content-Type") == "application/json")
        self.check(req, "authorization", req.headers.get("Authorization") == self.auth)
        body = req.rfile.read(int(req.headers.get("Content-Length", "0")))
        with self.lock:
            n = self.posts
            self.posts += 1
        answer = self.policy(n) if self.policy else None
        if answer is None:
            try:
                items = json.loads(body)
            except ValueError as e:
                with self.lock:
                    self.errors.append(f"body: {e}")
                items = []
            with self.lock:
                self.elements.extend(items)
        status, text = answer or (200, '"ok"')
        data = text.encode()
        req.send_response(status)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def values(self):
        with self.lock:
            return [e["value"] for e in self.elements]


def config(port, extra=""):
    return f"""\
[plugins.test-source]
poll_interval = "10ms"
points_per_poll = 5
count_file = "count"

[plugins.test-transform]
tag = "seen"

[plugins.kwollect-output]
url = "http://127.0.0.1:{port}/stable/sites/lyon/metrics"
hostname = "taurus-7"
{extra}"""


class TestKwollectOutput(AgentTestCase):
    tmp_prefix = "alumet-kwollect-"

    def fake(self, **kw):
        f = FakeKwollect(**kw)
        self.addCleanup(f.close)
        return f

    def check(self, fake, agent, t_end, missing=(), metric_id="test_counter"):
        self.assertEqual(fake.errors, [])
        count = agent.count()
        for e in fake.elements:
            self.assertEqual(list(e), ["timestamp", "metric_id", "device_id", "value", "labels"])
            self.assertIsInstance(e["timestamp"], float)
            self.assertGreaterEqual(e["timestamp"], agent.t_start_ns / 1e9 - 1e-3)
            self.assertLessEqual(e["timestamp"], t_end / 1e9)
            self.assertEqual(e["metric_id"], metric_id)
            self.assertEqual(e["device_id"], "taurus-7")
            self.assertEqual(e["labels"], {"ressource_kind": "local_machine", "ressource_id": "",
                                           "consumer_kind": "local_machine", "consumer_id": "",
                                           "chain": "seen", "seen": True})
        self.assertEqual(fake.values(), [i for i in range(count) if i not in missing])

    def test_pushes_every_point(self):
        fake = self.fake(auth="Basic " + base64.b64encode(b"jdoe:s3cret").decode())
        agent = self.agent(config(fake.port, 'login = "jdoe"\npassword = "s3cret"\n'
                                  "use_unit_display_name = false\n"))
        agent.wait_ready()
        wait_until(lambda: len(fake.values()) >= 100, 15, "100 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        # unity: "" as display name (no suffix), "1" as unique name
        self.check(fake, agent, time.time_ns(), metric_id="test_counter_1")
        self.assertNotIn("ERROR", agent.stderr())

    def test_server_errors(self):
        refused = []

        def policy(n):
            if n == 2:
                return (500, "boom")
            if n == 4:
                refused.append(n)
                return (400, "bad metric")
            return None

        fake = self.fake(policy=policy)
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: len(fake.values()) >= 100, 15, "100 points")
        # the dropped points are reported: exit status 1
        self.assertEqual(agent.stop(), 1, agent.stderr())
        values = fake.values()
        missing = set(range(agent.count())) - set(values)
        self.assertEqual(len(missing), 5, "one buffer of 5 points dropped")
        self.check(fake, agent, time.time_ns(), missing=missing)
        err = agent.stderr()
        self.assertIn(f"ERROR pipeline: cannot write to kwollect-output/kwollect-output: Kwollect "
                      f"at 'http://127.0.0.1:{fake.port}/stable/sites/lyon/metrics' answered HTTP "
                      "500: boom; keeping the data and retrying", err)
        self.assertIn("ERROR kwollect-output: 5 points were refused by Kwollect, dropping them: "
                      f"Kwollect at 'http://127.0.0.1:{fake.port}/stable/sites/lyon/metrics' "
                      "answered HTTP 400: bad metric", err)


if __name__ == "__main__":
    run_tests(all_skipped_exit=SKIP)
