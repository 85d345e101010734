# SPDX-License-Identifier: MIT
"""The influxdb plugin against a real InfluxDB 1.x (`influxd`, Debian package
`influxdb`), through the v1 write API: the test starts the server with a
generated configuration on free loopback ports, in a temporary directory,
with authentication on; the agent writes through the plugin; the test reads
the points back with /query (JSON) and checks every value, tag and
timestamp. Then the server is killed during a run and restarted on the same
port a few seconds later: every point made while it was down must arrive,
none dropped. Exits 77 (skipped) when influxd is not installed."""

import sys
import tempfile
import time

from e2e_http import SKIP, AgentTestCase, run_tests, wait_until
from e2e_influxd import INFLUXD, NO_INFLUXD, Influxd

DB = "alumet test"
USER = "alumet"
PASSWORD = "p@ss word"


def config(port, extra=""):
    return f"""\
[plugins.test-source]
poll_interval = "5ms"
points_per_poll = 1
count_file = "count"

[plugins.influxdb]
host = "http://127.0.0.1:{port}"
api_version = 1
database = "{DB}"
username = "{USER}"
password = "{PASSWORD}"
{extra}"""


class TestInfluxV1(AgentTestCase):
    tmp_prefix = "alumet-influxdb-"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory(prefix="alumet-influxd-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.influxd = Influxd(cls.tmp.name, DB, USER, PASSWORD)
        # class cleanups run even when setUpClass fails (tearDownClass does not)
        cls.addClassCleanup(cls.influxd.kill)
        cls.influxd.start()
        # with auth on, the first user can be created without credentials
        cls.influxd.query(f"CREATE USER \"{USER}\" WITH PASSWORD '{PASSWORD}' WITH ALL "
                          f"PRIVILEGES", auth=False, db=False)
        cls.influxd.query(f'CREATE DATABASE "{DB}"', db=False)

    def setUp(self):
        super().setUp()
        if self.influxd.proc.poll() is not None:
            self.influxd.start()
        if self.influxd.points("test_counter"):
            self.influxd.query('DROP MEASUREMENT "test_counter"')

    def check_points(self, agent, t_end):
        count = agent.count()
        self.assertGreater(count, 0)
        points = self.influxd.points("test_counter")
        values = [p["value"] for p in points]
        self.assertEqual(len(values), count, f"{len(values)} points stored, {count} made")
        self.assertEqual(values, list(range(count)))
        for p in points:
            self.assertEqual(set(p), {"time", "value", "resource_kind", "resource_consumer_kind"})
            self.assertEqual(p["resource_kind"], "local_machine")
            self.assertEqual(p["resource_consumer_kind"], "local_machine")
            self.assertIsInstance(p["value"], int)
            self.assertGreaterEqual(p["time"], agent.t_start_ns)
            self.assertLessEqual(p["time"], t_end)
        # stored as integers: 1.x has no unsigned type
        res = self.influxd.query('SHOW FIELD KEYS FROM "test_counter"')
        self.assertEqual(res["results"][0]["series"][0]["values"], [["value", "integer"]])
        return count

    def test_writes_and_reads_back(self):
        agent = self.agent(config(self.influxd.port))
        agent.wait_ready()
        wait_until(lambda: agent.count() >= 150, 10, "150 points")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.check_points(agent, time.time_ns())
        err = agent.stderr()
        self.assertIn(f"INFO  influxdb: connected to InfluxDB at 'http://127.0.0.1:"
                      f"{self.influxd.port}' (database '{DB}')", err)
        self.assertNotIn("ERROR", err)
        self.assertNotIn("WARN", err)

    def test_wrong_password(self):
        agent = self.agent(config(self.influxd.port).replace(PASSWORD, "wrong"))
        self.assertNotEqual(agent.wait_exit(), 0)
        self.assertIn("answered HTTP 401: {\"error\":\"authorization failed\"}; please check the "
                      "host, credentials and database in the configuration", agent.stderr())

    def test_unknown_database(self):
        agent = self.agent(config(self.influxd.port).replace(DB, "nope"))
        self.assertNotEqual(agent.wait_exit(), 0)
        self.assertIn("(database 'nope') answered HTTP 404: {\"error\":\"database not found: "
                      "\\\"nope\\\"\"}", agent.stderr())

    def test_v2_api_on_1x(self):
        """InfluxDB 1.6/1.7 have no v2 API: the start fails and says what to do."""
        agent = self.agent(f'[plugins.influxdb]\nhost = "http://127.0.0.1:{self.influxd.port}"\n'
                           'org = "o"\nbucket = "b"\ntoken = "t"\n')
        self.assertNotEqual(agent.wait_exit(), 0)
        self.assertIn("answered HTTP 404: 404 page not found; this server has no v2 write API "
                      "(InfluxDB 1.x before 1.8): set api_version = 1 and database in the "
                      "configuration", agent.stderr())

    def test_server_outage(self):
        """influxd killed during the run, restarted on the same port 3 s
        later: every point made meanwhile arrives, nothing is dropped."""
        agent = self.agent(config(self.influxd.port, "max_buffered_points = 100000\n"))
        agent.wait_ready()
        wait_until(lambda: agent.count() >= 100, 10, "100 points")
        self.influxd.kill()
        down_at = agent.count()
        time.sleep(3)
        made_while_down = agent.count() - down_at
        self.assertGreater(made_while_down, 200)
        wait_until(lambda: "cannot write to influxdb/out" in agent.stderr(), 10,
                   "the agent to notice the outage")
        self.influxd.start()
        wait_until(lambda: "recovered" in agent.stderr(), 60, "the delivery to recover")
        wait_until(lambda: agent.count() >= down_at + made_while_down + 100, 10, "100 more")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        count = self.check_points(agent, time.time_ns())
        self.assertGreater(count, down_at + made_while_down)
        err = agent.stderr()
        self.assertIn("ERROR pipeline: cannot write to influxdb/out: cannot reach InfluxDB at "
                      f"'http://127.0.0.1:{self.influxd.port}' (database '{DB}'): ", err)
        self.assertIn("INFO  pipeline: delivery to influxdb/out recovered (0 points dropped in "
                      "total)", err)
        self.assertNotIn("dropped):", err)
        self.assertNotIn("are lost", err)


if __name__ == "__main__":
    if not INFLUXD:
        print(NO_INFLUXD)
        sys.exit(SKIP)
    run_tests(all_skipped_exit=SKIP)
