# SPDX-License-Identifier: MIT
"""The kwollect-input plugin against a fake Kwollect API (http.server):
`alumet-agent exec` fetches the window of the run once the command ended;
the query (path, nodes, metrics, window, basic authentication) and every
value, timestamp, resource, consumer and attribute in the CSV output."""

import base64
import csv
import os
import time
import urllib.parse

from e2e_http import SKIP, AgentTestCase, FakeServer, run_tests

MEASURES = [
    {"device_id": "taurus-7", "metric_id": "wattmetre_power_watt",
     "timestamp": "2025-07-21T16:15:31+02:00", "value": 131.7,
     "labels": {"_device_orig": "wattmetre1-port6"}},
    {"device_id": "taurus-7", "metric_id": "wattmetre_power_watt",
     "timestamp": "2025-07-21T16:15:31.020000+02:00", "value": 132,
     "labels": {"_device_orig": ["a", "b"]}},
    {"device_id": "taurus-7", "metric_id": "bmc_temp_celsius",
     "timestamp": "2025-07-21T14:15:32.123456789Z", "value": 41.5, "labels": {}},
    {"device_id": "taurus-7", "metric_id": "not_configured",
     "timestamp": "2025-07-21T14:15:33Z", "value": 1, "labels": {}},
]
EXPECTED = [
    ["wattmetre_power_watt_W", "2025-07-21T14:15:31Z", "131.7", "device_id", "taurus-7",
     "device_origin", "wattmetre1-port6", "wattmetre_power_watt"],
    ["wattmetre_power_watt_W", "2025-07-21T14:15:31.02Z", "132", "device_id", "taurus-7",
     "local_machine", "", "wattmetre_power_watt"],
    ["bmc_temp_celsius_°C", "2025-07-21T14:15:32.123456789Z", "41.5", "device_id", "taurus-7",
     "local_machine", "", "bmc_temp_celsius"],
]


class FakeKwollectApi(FakeServer):
    def __init__(self):
        self.queries = []
        super().__init__()

    def handle(self, req):
        raise AssertionError("POST")

    def get(self, req):
        url = urllib.parse.urlsplit(req.path)
        with self.lock:
            self.queries.append((url.path, urllib.parse.parse_qs(url.query),
                                 req.headers.get("Authorization"), time.time()))
        data = __import__("json").dumps(MEASURES).encode()
        req.send_response(200)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)


class TestKwollectInput(AgentTestCase):
    tmp_prefix = "alumet-kwi-"

    def test_exec_fetches_window(self):
        fake = FakeKwollectApi()
        self.addCleanup(fake.close)
        # FakeServer serves POST only: add GET
        fake.server.RequestHandlerClass.do_GET = lambda req: fake.get(req)
        config = f"""\
[plugins.kwollect-input]
site = "lyon"
hostname = "taurus-7"
metrics = ["wattmetre_power_watt", "bmc_temp_celsius"]
login = "jdoe"
password = "pw:1"
utc_offset = 2
api_url = "http://127.0.0.1:{fake.port}/stable/sites/"

[plugins.csv]
output_path = "out.csv"
"""
        t0 = time.time()
        agent = self.agent(config, args=("exec", "--", "sleep", "0.5"))
        self.assertEqual(agent.wait_exit(), 0, agent.stderr())
        t1 = time.time()
        self.assertEqual(len(fake.queries), 1, fake.queries)
        path, query, auth, _ = fake.queries[0]
        self.assertEqual(path, "/stable/sites/lyon/metrics")
        self.assertEqual(auth, "Basic " + base64.b64encode(b"jdoe:pw:1").decode())
        self.assertEqual(query["nodes"], ["taurus-7"])
        self.assertEqual(query["metrics"], ["wattmetre_power_watt,bmc_temp_celsius"])
        start, end = int(query["start_time"][0]), int(query["end_time"][0])
        self.assertLessEqual(int(t0) - 1, start)
        self.assertLessEqual(start, end)
        self.assertGreaterEqual(end, start + 0.5)
        self.assertLessEqual(end, t1 + 1)
        with open(os.path.join(self.dir, "out.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter=";"))
        self.assertEqual(rows[0][:8], ["metric", "timestamp", "value", "resource_kind",
                                       "resource_id", "consumer_kind", "consumer_id",
                                       "metric_id"])
        self.assertEqual([r[:8] for r in rows[1:]], EXPECTED)
        err = agent.stderr()
        self.assertIn("WARN  kwollect-input: 1 measures of metrics not in the configuration, "
                      "skipping them", err)
        self.assertIn("INFO  kwollect-input: fetched 3 measures from Kwollect", err)


if __name__ == "__main__":
    run_tests(all_skipped_exit=SKIP)
