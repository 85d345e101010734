# SPDX-License-Identifier: MIT
"""A private InfluxDB 1.x server for the tests (Python 3 standard library
only): `influxd` (Debian package `influxdb`) started with a generated
configuration on free loopback ports, its data in a temporary directory,
queried through the HTTP /query API (JSON). INFLUXD is None when influxd is
not installed: the tests then skip with that reason.
"""

import base64
import json
import os
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request

from e2e_http import free_port, wait_until

INFLUXD = shutil.which("influxd")
NO_INFLUXD = "influxd not found: install the Debian package 'influxdb' to run this test"

# influxd opens its stores before it answers: generous on a loaded machine
READY_TIMEOUT = 90


class Influxd:
    """influxd with its data in workdir, HTTP and RPC on free loopback ports;
    database db. With a user, authentication is on (the first user can be
    created without credentials: see create_admin)."""

    def __init__(self, workdir, db, user=None, password=None):
        self.dir = workdir
        self.db = db
        self.user = user
        self.password = password
        self.port = free_port()
        self.rpc_port = free_port()
        self.conf = os.path.join(workdir, "influxdb.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(f"""\
reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{workdir}/meta"
  logging-enabled = false
[data]
  dir = "{workdir}/data"
  wal-dir = "{workdir}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = {"true" if user else "false"}
  log-enabled = false
  pprof-enabled = false
  bind-socket = "{workdir}/influxdb.sock"
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[retention]
  enabled = false
[shard-precreation]
  enabled = false
""")
        self.proc = None
        self.log = os.path.join(workdir, "influxd.log")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        with open(self.log, "a", encoding="utf-8") as log:
            self.proc = subprocess.Popen([INFLUXD, "run", "-config", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        wait_until(self.ping, READY_TIMEOUT, f"influxd to answer on port {self.port}")

    def ping(self):
        if self.proc.poll() is not None:
            with open(self.log, encoding="utf-8") as f:
                raise AssertionError(f"influxd exited with {self.proc.returncode}:\n{f.read()}")
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as r:
                return r.status == 204
        except OSError:
            return False

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def query(self, q, auth=True, db=True):
        """The JSON answer of /query (timestamps in ns); a statement error
        fails the test."""
        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = self.db
        req = urllib.request.Request(f"{self.url}/query",
                                     data=urllib.parse.urlencode(params).encode())
        if auth and self.user:
            cred = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            req.add_header("Authorization", "Basic " + cred)
        with urllib.request.urlopen(req, timeout=60) as r:
            res = json.loads(r.read())
        for st in res.get("results", []):
            if "error" in st:
                raise AssertionError(f"query {q!r}: {st['error']}")
        return res

    def rows(self, q):
        """The rows of every series of the first statement of q, as dicts."""
        out = []
        for s in self.query(q)["results"][0].get("series", []):
            out += [dict(zip(s["columns"], v)) for v in s["values"]]
        return out

    def points(self, measurement):
        """Every point of measurement: list of dicts, in time order."""
        return sorted(self.rows(f'SELECT * FROM "{measurement}"'), key=lambda p: p["time"])

    def measurements(self):
        return sorted(r["name"] for r in self.rows("SHOW MEASUREMENTS"))
