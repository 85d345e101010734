# SPDX-License-Identifier: MIT
"""The mongodb plugin against a fake MongoDB server speaking the wire
protocol (fake_mongod.py): the handshake (legacy OP_QUERY then OP_MSG), the
connection check (ping), every document decoded and checked field by field,
documents refused with writeErrors (dropped, counted, said), a connection
lost in the middle of an insert (kept, sent again, nothing lost nor stored
twice), and endSessions at the end."""

import time

from e2e_http import SKIP, AgentTestCase, run_tests, wait_until
import fake_mongod
from fake_mongod import FakeMongod


def config(port, extra=""):
    return f"""\
[plugins.test-source]
poll_interval = "10ms"
points_per_poll = 5
count_file = "count"

[plugins.test-transform]
tag = "seen"

[plugins.mongodb]
host = "127.0.0.1"
port = {port}
database = "alumet db"
collection = "points"
{extra}"""


class TestMongodb(AgentTestCase):
    tmp_prefix = "alumet-mongodb-"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if fake_mongod.bson is None:
            raise __import__("unittest").SkipTest("python3-bson is not installed")

    def fake(self, **kw):
        f = FakeMongod(**kw)
        self.addCleanup(f.close)
        return f

    def check_docs(self, fake, agent, t_end, missing=()):
        """Every point test-source made is stored once, in order, each
        document exactly as upstream writes it."""
        self.assertEqual(fake.errors, [])
        count = agent.count()
        self.assertGreater(count, 0)
        docs = fake.stored("alumet db.points")
        stamps = []
        for d in docs:
            ts = d["timestamp"]
            self.assertIsInstance(ts, str)
            self.assertGreaterEqual(int(ts), agent.t_start_ns)
            self.assertLessEqual(int(ts), t_end)
            stamps.append(int(ts))
            self.assertEqual(list(d.keys()),
                             ["_id", "measurement", "resource_kind", "resource_id",
                              "resource_consumer_kind", "resource_consumer_id", "chain", "seen",
                              "value", "timestamp"])
            self.assertEqual({k: v for k, v in d.items() if k not in ("_id", "value", "timestamp")},
                             {"measurement": "test_counter", "resource_kind": "local_machine",
                              "resource_id": "", "resource_consumer_kind": "local_machine",
                              "resource_consumer_id": "", "seen": True, "chain": "seen"})
        values = [d["value"] for d in docs]
        expected = [f"{i}u" for i in range(count) if i not in missing]
        self.assertEqual(values, expected)
        self.assertEqual(stamps, sorted(stamps))

    def test_writes_every_point(self):
        fake = self.fake()
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: len(fake.stored("alumet db.points")) >= 100, 15, "100 documents")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.check_docs(fake, agent, time.time_ns())
        cmds = fake.commands
        # libmongoc's first hello is a legacy OP_QUERY, the rest are OP_MSG
        self.assertEqual(cmds[0][0], "OP_QUERY")
        self.assertIn(cmds[0][1].lower(), ("ismaster", "hello"))
        self.assertIn(("OP_MSG", "ping"), cmds)
        self.assertNotIn(("OP_QUERY", "insert"), cmds)
        self.assertEqual(cmds[-1], ("OP_MSG", "endSessions"))
        err = agent.stderr()
        self.assertIn(f"INFO  mongodb: connected to MongoDB at '127.0.0.1:{fake.port}' "
                      "(collection 'alumet db.points')", err)
        self.assertNotIn("ERROR", err)
        self.assertNotIn("WARN", err)

    def test_write_errors_dropped_and_counted(self):
        refused = []

        def policy(n, db, coll, docs):
            if n == 2:  # refuse the 1st and 3rd documents of the 3rd insert
                refused.extend(int(docs[i]["value"][:-1]) for i in (0, 2))
                return [0, 2]
            return None

        fake = self.fake(policy=policy)
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: len(fake.stored("alumet db.points")) >= 60, 15, "60 documents")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assertEqual(len(refused), 2)
        self.check_docs(fake, agent, time.time_ns(), missing=set(refused))
        err = agent.stderr()
        self.assertIn("ERROR mongodb: 2 points were refused by MongoDB, dropping them: "
                      f"Document failed validation (0)", err)
        self.assertNotIn("retrying", err)

    def test_connection_lost_then_retried(self):
        fake = self.fake(policy=lambda n, db, coll, docs: "drop" if n == 3 else None)
        agent = self.agent(config(fake.port))
        agent.wait_ready()
        wait_until(lambda: "recovered" in agent.stderr(), 30, "the delivery to recover")
        wait_until(lambda: len(fake.stored("alumet db.points")) >= 100, 15, "100 documents")
        self.assertEqual(agent.stop(), 0, agent.stderr())
        # nothing lost, nothing stored twice
        self.check_docs(fake, agent, time.time_ns())
        self.assertGreaterEqual(fake.connections, 2)
        err = agent.stderr()
        self.assertIn(f"ERROR pipeline: cannot write to mongodb/out: cannot insert into MongoDB at "
                      f"'127.0.0.1:{fake.port}' (collection 'alumet db.points'): ", err)
        self.assertIn("keeping the data and retrying", err)
        self.assertIn("INFO  pipeline: delivery to mongodb/out recovered (0 points dropped in "
                      "total)", err)

    def test_server_down_at_start(self):
        # nothing listens: the agent starts, keeps the measurements, says so
        fake = self.fake()
        port = fake.port
        fake.close()
        agent = self.agent(config(port, 'connect_timeout = "300ms"\n'))
        agent.wait_ready()
        wait_until(lambda: agent.count() > 0, 10, "a point")
        # what could not be written is counted and reported: exit status 1
        self.assertEqual(agent.stop(), 1, agent.stderr())
        err = agent.stderr()
        self.assertIn("points could not be delivered before the shutdown and are lost", err)
        self.assertIn(f"WARN  mongodb: cannot reach MongoDB at '127.0.0.1:{port}' (collection "
                      "'alumet db.points'): ", err)
        self.assertIn("starting anyway: the measurements are kept (up to 1000000 points) and "
                      "sent when MongoDB is back", err)

    def test_fill_me_refused_at_start(self):
        # upstream's generated values pass `config check` but not the start
        fake = self.fake()
        agent = self.agent(config(fake.port).replace('"alumet db"', '"FILL ME"'))
        self.assertEqual(agent.wait_exit(), 1)
        self.assertIn('plugins.mongodb: database and collection are still "FILL ME"; set them '
                      "to the database and collection to write to", agent.stderr())
        self.assertEqual(fake.connections, 0)


if __name__ == "__main__":
    run_tests(all_skipped_exit=SKIP)
