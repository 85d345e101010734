# SPDX-License-Identifier: MIT
"""prometheus-remote-write against a protocol-level fake receiver
(http.server, started by the test, with its own snappy block decoder and
protobuf wire walker written from the formats' specifications): the
headers, the authentication, every request decoded (labels sorted and
unique, __name__, samples in time order), the empty request at startup, the
drop of a request the server refuses (400), and the retry of a request that
failed (503), which must be the very same bytes.

Meson passes ALUMET_E2E_AGENT, ALUMET_E2E_PLUGIN_DIR and PYTHONPATH.
"""

import base64
import struct

from e2e_http import AgentTestCase, FakeServer, run_tests, wait_until

LONG = 60
USER_AGENT = "alumet-prometheus-remote-write/0.1.0"


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def snappy_decode(data):
    """The snappy block format: the varint length, then literals and copies."""
    n, i = varint(data, 0)
    out = bytearray()
    while i < len(data):
        tag = data[i]
        i += 1
        kind = tag & 3
        if kind == 0:
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                length = int.from_bytes(data[i:i + extra], "little")
                i += extra
            length += 1
            out += data[i:i + length]
            i += length
            continue
        if kind == 1:
            length = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[i]
            i += 1
        elif kind == 2:
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[i:i + 2], "little")
            i += 2
        else:
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[i:i + 4], "little")
            i += 4
        if offset == 0 or offset > len(out):
            raise ValueError(f"snappy: bad copy offset {offset}")
        for _ in range(length):
            out.append(out[-offset])
    if len(out) != n:
        raise ValueError(f"snappy: {len(out)} bytes decoded, the header says {n}")
    return bytes(out)


def fields(buf):
    """(field number, wire type, value) of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf: wire type {wt}")
        yield num, wt, v


def decode_write_request(body):
    """[(labels as a list of (name, value), [(timestamp ms, value)])]."""
    series = []
    for num, wt, ts in fields(snappy_decode(body)):
        if (num, wt) != (1, 2):
            raise ValueError(f"WriteRequest: unexpected field {num}")
        labels, samples = [], []
        for n, w, v in fields(ts):
            if (n, w) == (1, 2):
                d = {k: val.decode() for k, _, val in fields(v)}
                labels.append((d.get(1, ""), d.get(2, "")))
            elif (n, w) == (2, 2):
                s = {k: val for k, _, val in fields(v)}
                value = struct.unpack("<d", s[1])[0] if 1 in s else 0.0
                t = s.get(2, 0)
                samples.append((t - (1 << 64) if t >= 1 << 63 else t, value))
            else:
                raise ValueError(f"TimeSeries: unexpected field {n}")
        series.append((labels, samples))
    return series


class FakeReceiver(FakeServer):
    """POST /api/v1/write. policy(n) -> (status, text) for the n-th data
    request (0-based; the empty request at startup is not counted), or None
    for 204. Records (raw body, decoded series, accepted)."""

    def __init__(self, policy=None, auth=None):
        self.requests = []
        self.policy = policy
        self.auth = auth
        self.data_requests = 0
        super().__init__()

    def handle(self, req):
        self.check(req, "path", req.path == "/api/v1/write")
        self.check(req, "content-type", req.headers.get("Content-Type") == "application/x-protobuf")
        self.check(req, "content-encoding", req.headers.get("Content-Encoding") == "snappy")
        self.check(req, "version", req.headers.get("X-Prometheus-Remote-Write-Version") == "0.1.0")
        self.check(req, "user-agent", req.headers.get("User-Agent") == USER_AGENT)
        self.check(req, "authorization", req.headers.get("Authorization") == self.auth)
        body = req.rfile.read(int(req.headers.get("Content-Length", "0")))
        try:
            series = decode_write_request(body)
        except (ValueError, IndexError, KeyError) as e:
            with self.lock:
                self.errors.append(f"undecodable body: {e}")
            series = []
        for labels, samples in series:
            names = [k for k, _ in labels]
            self.check(req, f"labels sorted and unique: {names}", names == sorted(set(names)))
            self.check(req, f"__name__ in {names}", "__name__" in names)
            self.check(req, f"no empty label value: {labels}", all(v for _, v in labels))
            ts = [t for t, _ in samples]
            self.check(req, f"samples in time order: {ts}", ts == sorted(set(ts)) and ts)
        with self.lock:
            n = self.data_requests
            if series:
                self.data_requests += 1
            answer = self.policy(n) if series and self.policy else None
            self.requests.append((body, series, answer is None))
        status, text = answer if answer else (204, "")
        data = text.encode()
        req.send_response(status)
        req.send_header("Content-Type", "text/plain; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def counter_values(self, accepted=True):
        """Values of test_counter_alumet in the requests (accepted or refused)."""
        out = []
        with self.lock:
            for _, series, ok in self.requests:
                for labels, samples in series:
                    if ok == accepted and ("__name__", "test_counter_alumet") in labels:
                        out += [v for _, v in samples]
        return out


def config(url, extra="", polls=40):
    return f"""\
[plugins.test-source]
poll_interval = "20ms"
points_per_poll = 1
max_polls = {polls}
count_file = "count"

[plugins.prometheus-remote-write]
url = "{url}"
{extra}"""


class TestFakeReceiver(AgentTestCase):
    tmp_prefix = "alumet-prw-fake-"

    def receiver(self, **kw):
        f = FakeReceiver(**kw)
        self.addCleanup(f.close)
        return f

    def run_agent(self, fake, extra="", polls=40, status=0):
        url = f"http://127.0.0.1:{fake.port}/api/v1/write"
        a = self.agent(config(url, extra, polls),
                       args=("--plugins", "test-source,prometheus-remote-write", "run"))
        a.wait_ready(LONG)
        wait_until(lambda: a.count() == polls, LONG, "test-source to finish its polls")
        self.assertEqual(a.stop(LONG), status, a.stderr())
        return a

    def test_request_and_bearer(self):
        fake = self.receiver(auth="Bearer s3cr=t")
        self.run_agent(fake, 'bearer_token = "s3cr=t"\nlabels = { instance = "n1" }\n')
        self.assertEqual(fake.errors, [])
        # the connection check: an empty WriteRequest, a snappy block of 0 bytes
        self.assertEqual(fake.requests[0][0], b"\x00")
        self.assertEqual(fake.counter_values(), [float(i) for i in range(40)])
        labels = fake.requests[1][1][0][0]
        self.assertEqual(labels, [("__name__", "test_counter_alumet"), ("instance", "n1"),
                                  ("resource_consumer_kind", "local_machine"),
                                  ("resource_kind", "local_machine")])

    def test_basic_auth(self):
        fake = self.receiver(auth="Basic " + base64.b64encode(b"al:p w").decode())
        self.run_agent(fake, 'username = "al"\npassword = "p w"\n', polls=3)
        self.assertEqual(fake.errors, [])
        self.assertEqual(fake.counter_values(), [0.0, 1.0, 2.0])

    def test_drops_refused(self):
        # the 2nd data request is refused: dropped, said, the rest goes on
        fake = self.receiver(policy=lambda n: (400, "out of order sample\n") if n == 1 else None)
        a = self.run_agent(fake, status=1)  # points were lost
        self.assertEqual(fake.errors, [])
        refused = fake.counter_values(accepted=False)
        self.assertGreaterEqual(len(refused), 1)
        self.assertEqual(sorted(fake.counter_values() + refused), [float(i) for i in range(40)])
        self.assertIn(f"ERROR prometheus-remote-write: {len(refused)} points were refused by the "
                      f"remote write server, dropping them: the remote write server at "
                      f"'http://127.0.0.1:{fake.port}/api/v1/write' answered HTTP 400: out of "
                      f"order sample\n", a.stderr())

    def test_retry_sends_the_same_request(self):
        # the 1st and 2nd data requests fail (503): the retries are the same bytes
        fake = self.receiver(policy=lambda n: (503, "busy") if n < 2 else None)
        a = self.run_agent(fake, 'counter_metrics = ["test_counter"]\n')
        self.assertEqual(fake.errors, [])
        bodies = [body for body, series, _ in fake.requests if series]
        self.assertEqual(bodies[0], bodies[1])
        self.assertEqual(bodies[0], bodies[2])
        self.assertEqual(fake.counter_values(), [float(i) for i in range(40)])
        totals = []
        with fake.lock:
            for _, series, ok in fake.requests:
                for labels, samples in series:
                    if ok and ("__name__", "test_counter_alumet_cumulative_total") in labels:
                        totals += [v for _, v in samples]
        self.assertEqual(totals, [float(i * (i + 1) // 2) for i in range(40)])
        self.assertIn("recovered (0 points dropped in total)", a.stderr())


if __name__ == "__main__":
    run_tests()
