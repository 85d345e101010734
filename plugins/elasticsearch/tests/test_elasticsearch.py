# SPDX-License-Identifier: MIT
"""The elasticsearch plugin against a fake Elasticsearch/OpenSearch
(fake_es.py): GET / and the index template at start, every NDJSON line of
the bulk requests, the four kinds of authentication, a path prefix in
server_url, per-item failures (429 sent again alone, 400 dropped and
counted), a failed request (503) retried whole."""

import base64
import json
import os
import time

from e2e_common import parse_rfc3339_ns
from e2e_http import SKIP, AgentTestCase, run_tests, wait_until
from fake_es import FakeES

TEMPLATE = {
    "index_patterns": ["alumet-*"],
    "template": {"mappings": {"properties": {
        "@timestamp": {"type": "date_nanos"},
        "resource_kind": {"type": "keyword"}, "resource_id": {"type": "keyword"},
        "consumer_kind": {"type": "keyword"}, "consumer_id": {"type": "keyword"}}}},
    "priority": 80, "version": 3, "_meta": {"origin": "Alumet measurements"}}

BASIC = "[plugins.elasticsearch.auth.basic]\nuser = \"elastic\"\npassword = \"pa:ss\"\n"


def config(url, auth=BASIC, extra=""):
    return f"""\
[plugins.test-source]
poll_interval = "10ms"
points_per_poll = 5
count_file = "count"

[plugins.test-transform]
tag = "seen"

[plugins.elasticsearch]
server_url = "{url}"
{extra}
{auth}"""


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class TestElasticsearch(AgentTestCase):
    tmp_prefix = "alumet-es-"

    def fake(self, **kw):
        kw.setdefault("auth", basic("elastic", "pa:ss"))
        f = FakeES(**kw)
        self.addCleanup(f.close)
        return f

    def check_docs(self, fake, agent, t_end, missing=(), ordered=True):
        self.assertEqual(fake.errors, [])
        count = agent.count()
        self.assertGreater(count, 0)
        values = []
        for index, d in fake.stored():
            self.assertEqual(index, "alumet-test_counter")
            self.assertEqual(list(d), ["@timestamp", "resource_kind", "resource_id",
                                       "consumer_kind", "consumer_id", "value", "chain", "seen"])
            ts = parse_rfc3339_ns(d["@timestamp"])
            self.assertGreaterEqual(ts, agent.t_start_ns)
            self.assertLessEqual(ts, t_end)
            self.assertEqual({k: v for k, v in d.items() if k not in ("@timestamp", "value")},
                             {"resource_kind": "local_machine", "resource_id": "",
                              "consumer_kind": "local_machine", "consumer_id": "",
                              "chain": "seen", "seen": True})
            self.assertIsInstance(d["value"], int)
            values.append(d["value"])
        expected = [i for i in range(count) if i not in missing]
        if ordered:
            self.assertEqual(values, expected)
        else:
            self.assertEqual(len(values), len(set(values)), "documents stored twice")
            self.assertEqual(sorted(values), expected)

    def test_writes_every_point(self):
        fake = self.fake()
        agent = self.agent(config(fake.url))
        agent.wait_ready()
        wait_until(lambda: len(fake.stored()) >= 100, 15, "100 documents")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.check_docs(fake, agent, time.time_ns())
        self.assertEqual(fake.requests[0], ("GET", "/"))
        self.assertEqual(fake.requests[1], ("PUT", "/_index_template/alumet_index_template"))
        self.assertEqual(fake.templates, {"alumet_index_template": TEMPLATE})
        err = agent.stderr()
        self.assertIn(f"INFO  elasticsearch: connected to Elasticsearch 8.14.1 at "
                      f"'http://127.0.0.1:{fake.port}'", err)
        self.assertNotIn("ERROR", err)
        self.assertNotIn("WARN", err)

    def test_auth_variants_and_opensearch(self):
        with open(os.path.join(self.dir, "basic_auth.txt"), "w", encoding="utf-8") as f:
            f.write("  fileuser:file pass\n")
        variants = [
            ("[plugins.elasticsearch.auth.basic_file]\nfile = \"basic_auth.txt\"\n",
             basic("fileuser", "file pass")),
            ("[plugins.elasticsearch.auth.api_key]\nkey = \"a2V5OnNlY3JldA==\"\n",
             "ApiKey a2V5OnNlY3JldA=="),
            ("[plugins.elasticsearch.auth.bearer]\ntoken = \"tok.en\"\n", "Bearer tok.en"),
        ]
        for auth, header in variants:
            fake = self.fake(auth=header, distribution="opensearch", prefix="/search/")
            agent = self.agent(config(fake.url + "/", auth=auth))
            agent.wait_ready()
            wait_until(lambda: len(fake.stored()) >= 10, 15, "10 documents")
            self.assertEqual(agent.stop(), 0, agent.stderr())
            self.check_docs(fake, agent, time.time_ns())
            self.assertEqual(fake.requests[1],
                             ("PUT", "/search/_index_template/alumet_index_template"))
            self.assertIn(f"INFO  elasticsearch: connected to OpenSearch 2.11.0 at "
                          f"'http://127.0.0.1:{fake.port}/search'", agent.stderr())

    def test_wrong_credentials_stop_startup(self):
        fake = self.fake(auth=basic("other", "x"))
        agent = self.agent(config(fake.url))
        self.assertEqual(agent.wait_exit(), 1)
        self.assertIn(f"'http://127.0.0.1:{fake.port}' answered HTTP 401 to GET /: ",
                      agent.stderr())
        self.assertIn("please check server_url and auth in the configuration", agent.stderr())

    def test_partial_failures(self):
        seen = {}

        def item_policy(n, i, doc):
            # bulk request 2: items 0 and 1 refused for now (429), item 2 for good (400);
            # each refused-for-now item is refused a second time too
            if n == 2 and i < 3:
                seen[doc["value"]] = 429 if i < 2 else 400
                return seen[doc["value"]]
            if n == 3 and i < 2:
                return 503
            return None

        fake = self.fake(item_policy=item_policy)
        agent = self.agent(config(fake.url))
        agent.wait_ready()
        wait_until(lambda: len(fake.stored()) >= 100, 15, "100 documents")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        dropped = [v for v, st in seen.items() if st == 400]
        self.assertEqual(len(dropped), 1)
        self.check_docs(fake, agent, time.time_ns(), missing=set(dropped), ordered=False)
        err = agent.stderr()
        self.assertIn("ERROR elasticsearch: 1 points were refused by the server, dropping them: "
                      "400 mapper_parsing_exception: failed to parse field [value]", err)
        self.assertIn("documents were refused for now by 'http://127.0.0.1:", err)
        self.assertIn("delivery to elasticsearch/api recovered", err)

    def test_whole_request_retried(self):
        fake = self.fake(request_policy=lambda n: 503 if n in (1, 2) else None)
        agent = self.agent(config(fake.url))
        agent.wait_ready()
        wait_until(lambda: "recovered" in agent.stderr(), 20, "the delivery to recover")
        wait_until(lambda: len(fake.stored()) >= 60, 15, "60 documents")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.check_docs(fake, agent, time.time_ns())
        self.assertIn(f"ERROR pipeline: cannot write to elasticsearch/api: "
                      f"'http://127.0.0.1:{fake.port}' answered HTTP 503 to a bulk request: ",
                      agent.stderr())

    def test_server_down_at_start(self):
        fake = self.fake()
        url = fake.url
        fake.close()
        agent = self.agent(config(url, extra='connect_timeout = "300ms"\n'))
        agent.wait_ready()
        self.assertIn(f"WARN  elasticsearch: cannot reach '{url}' for GET /: ", agent.stderr())
        agent.stop()


if __name__ == "__main__":
    run_tests(all_skipped_exit=SKIP)
