# SPDX-License-Identifier: MIT
"""A fake Elasticsearch/OpenSearch (http.server, Python 3 standard library)
for the elasticsearch plugin's tests and bench/: GET / (the server's
identity), PUT /_index_template/<name>, POST /_bulk. Every request is
checked (path, headers, every NDJSON line) and problems are recorded in
errors; stored documents are kept in order as (index, document).

item_policy(n, i, doc) -> None (store, 201) or a status (429, 400, ...) for
item i of the n-th bulk request (0-based); request_policy(n) -> None or a
status for the whole n-th bulk request."""

import http.server
import json
import threading

BULK_QUERY = "filter_path=errors,items.*.status,items.*.error"
ERRORS = {429: ("es_rejected_execution_exception", "rejected execution: queue full"),
          503: ("unavailable_shards_exception", "primary shard is not active"),
          400: ("mapper_parsing_exception", "failed to parse field [value]"),
          409: ("version_conflict_engine_exception", "document already exists")}


class FakeES:
    def __init__(self, prefix="", auth=None, distribution=None, item_policy=None,
                 request_policy=None, store=True):
        self.prefix = prefix.rstrip("/")
        self.auth = auth                # expected Authorization header
        self.distribution = distribution
        self.item_policy = item_policy
        self.request_policy = request_policy
        self.store = store              # False: count the items only (bench/)
        self.count = 0
        self.errors = []
        self.requests = []              # (method, path)
        self.templates = {}
        self.docs = []                  # (index, document) stored
        self.bulks = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.handle(self, "GET")

            def do_PUT(self):
                fake.handle(self, "PUT")

            def do_POST(self):
                fake.handle(self, "POST")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{self.prefix}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def error(self, text):
        with self.lock:
            self.errors.append(text)

    def stored(self):
        with self.lock:
            return list(self.docs)

    def reply(self, req, status, obj):
        data = json.dumps(obj).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def handle(self, req, method):
        length = int(req.headers.get("Content-Length", "0"))
        body = req.rfile.read(length).decode("utf-8") if length else ""
        with self.lock:
            self.requests.append((method, req.path))
        ua = req.headers.get("User-Agent", "")
        if not (ua.startswith("Alumet/") and ua.endswith(" plugin-elasticsearch/0.1.0")):
            self.error(f"user agent {ua!r}")
        if req.headers.get("Authorization") != self.auth:
            self.error(f"authorization {req.headers.get('Authorization')!r} != {self.auth!r}")
            self.reply(req, 401, {"error": {"type": "security_exception"}, "status": 401})
            return
        path = req.path
        if not path.startswith(self.prefix + "/"):
            self.error(f"path {path!r} outside {self.prefix!r}")
        path = path[len(self.prefix):]
        if method == "GET" and path == "/":
            version = {"number": "8.14.1"}
            if self.distribution:
                version = {"distribution": self.distribution, "number": "2.11.0"}
            self.reply(req, 200, {"name": "fake", "cluster_name": "test", "version": version,
                                  "tagline": "You Know, for Search"})
        elif method == "PUT" and path.startswith("/_index_template/"):
            try:
                self.templates[path.split("/")[2]] = json.loads(body)
            except ValueError as e:
                self.error(f"template: {e}")
            self.reply(req, 200, {"acknowledged": True})
        elif method == "POST" and path == "/_bulk?" + BULK_QUERY:
            self.bulk(req, body)
        else:
            self.error(f"unexpected request {method} {req.path}")
            self.reply(req, 404, {"error": "no handler"})

    def bulk(self, req, body):
        if req.headers.get("Content-Type") != "application/x-ndjson":
            self.error(f"content type {req.headers.get('Content-Type')!r}")
        if not body.endswith("\n"):
            self.error("bulk body without its final newline")
        if not self.store:
            n = body.count("\n") // 2
            with self.lock:
                self.count += n
            data = ('{"errors":false,"items":[' + ",".join(['{"create":{"status":201}}'] * n)
                    + "]}").encode()
            req.send_response(200)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
            return
        lines = body[:-1].split("\n")
        if len(lines) % 2:
            self.error(f"odd number of lines: {len(lines)}")
        with self.lock:
            n = self.bulks
            self.bulks += 1
        status = self.request_policy(n) if self.request_policy else None
        if status:
            etype, reason = ERRORS.get(status, ("error", "error"))
            self.reply(req, status, {"error": {"type": etype, "reason": reason},
                                     "status": status})
            return
        items, errors = [], False
        for i in range(0, len(lines) - 1, 2):
            try:
                action = json.loads(lines[i])
                doc = json.loads(lines[i + 1])
            except ValueError as e:
                self.error(f"line {i}: {e}")
                continue
            if list(action) != ["create"] or list(action["create"]) != ["_index"]:
                self.error(f"action {lines[i]!r}")
            st = self.item_policy(n, i // 2, doc) if self.item_policy else None
            if st:
                errors = True
                etype, reason = ERRORS.get(st, ("error", "error"))
                items.append({"create": {"status": st,
                                         "error": {"type": etype, "reason": reason}}})
            else:
                with self.lock:
                    self.docs.append((action["create"]["_index"], doc))
                items.append({"create": {"status": 201}})
        self.reply(req, 200, {"errors": errors, "items": items})
