# SPDX-License-Identifier: MIT
"""A fake MongoDB server speaking the wire protocol (python3-bson for the
documents), enough for libmongoc's writes: the first hello/isMaster in a
legacy OP_QUERY or in an OP_MSG, then OP_MSG commands: hello, isMaster,
ping, insert (with the documents in a kind-1 section, a document
sequence), endSessions. Everything else is answered with a command error.
Used by test_mongodb.py and bench/. Problems found in what the client sends
are recorded in errors; documents are stored per "db.collection" in order.
"""

import datetime
import socket
import struct
import sys
import threading

try:
    import bson
except ImportError:  # the Debian package, from another Python than /usr/bin/python3
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import bson
    except ImportError:
        bson = None

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013


class FakeMongod:
    """policy(n, db, coll, docs) -> None (store all), "drop" (close the
    connection without an answer, store nothing), or a list of indexes of
    documents to refuse with writeErrors (the rest are stored), for the n-th
    insert command (0-based)."""

    def __init__(self, policy=None, store=True):
        self.store = store      # False: count the documents only (bench/)
        self.count = 0
        self.errors = []
        self.docs = {}          # "db.coll" -> [documents]
        self.commands = []      # (opcode, command name) in order
        self.inserts = 0
        self.connections = 0
        self.policy = policy
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def stored(self, ns):
        with self.lock:
            return list(self.docs.get(ns, []))

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _recv(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _error(self, what):
        with self.lock:
            self.errors.append(what)

    def _serve(self, conn):
        next_id = [1]
        try:
            while True:
                head = self._recv(conn, 16)
                length, req_id, _, opcode = struct.unpack("<iiii", head)
                body = self._recv(conn, length - 16)
                if opcode == OP_QUERY:
                    reply = self._op_query(body)
                    payload = struct.pack("<iqii", 0, 0, 0, 1) + bson.encode(reply)
                    out_op = OP_REPLY
                elif opcode == OP_MSG:
                    reply = self._op_msg(body)
                    if reply is None:
                        conn.close()  # the policy drops this connection
                        return
                    payload = struct.pack("<I", 0) + b"\x00" + bson.encode(reply)
                    out_op = OP_MSG
                else:
                    self._error(f"unexpected opcode {opcode}")
                    return
                msg = struct.pack("<iiii", 16 + len(payload), next_id[0], req_id, out_op)
                next_id[0] += 1
                conn.sendall(msg + payload)
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def _op_query(self, body):
        # flags, fullCollectionName, numberToSkip, numberToReturn, query
        end = body.index(b"\x00", 4)
        ns = body[4:end].decode()
        query = bson.decode(body[end + 9:end + 9 + struct.unpack_from("<i", body, end + 9)[0]])
        name = next(iter(query))
        with self.lock:
            self.commands.append(("OP_QUERY", name))
        if ns != "admin.$cmd" or name.lower() not in ("ismaster", "hello"):
            self._error(f"legacy OP_QUERY other than the first hello: {ns} {query}")
            return {"ok": 0.0, "errmsg": "OP_QUERY is not supported", "code": 352}
        return self._hello(query)

    def _hello(self, cmd):
        if "client" in cmd and cmd["client"].get("application", {}).get("name") != "alumet":
            self._error(f"appname: {cmd['client']!r}")
        return {"helloOk": True, "ismaster": True, "isWritablePrimary": True,
                "topologyVersion": {"processId": bson.ObjectId(), "counter": 0},
                "maxBsonObjectSize": 16777216, "maxMessageSizeBytes": 48000000,
                "maxWriteBatchSize": 100000, "localTime": datetime.datetime.now(),
                "logicalSessionTimeoutMinutes": 30, "connectionId": 1,
                "minWireVersion": 0, "maxWireVersion": 17, "readOnly": False, "ok": 1.0}

    def _op_msg(self, body):
        flags = struct.unpack_from("<I", body, 0)[0]
        end = len(body) - (4 if flags & 1 else 0)
        pos, cmd, seqs = 4, None, {}
        while pos < end:
            kind = body[pos]
            pos += 1
            size = struct.unpack_from("<i", body, pos)[0]
            if kind == 0:
                cmd = bson.decode(body[pos:pos + size])
            elif kind == 1:
                ident_end = body.index(b"\x00", pos + 4)
                ident = body[pos + 4:ident_end].decode()
                if self.store:
                    seqs[ident] = bson.decode_all(body[ident_end + 1:pos + size])
                else:  # count the documents: walk their lengths
                    n, p = 0, ident_end + 1
                    while p < pos + size:
                        p += struct.unpack_from("<i", body, p)[0]
                        n += 1
                    seqs[ident] = [None] * n
            else:
                self._error(f"unknown section kind {kind}")
            pos += size
        name = next(iter(cmd))
        with self.lock:
            self.commands.append(("OP_MSG", name))
        if "$db" not in cmd:
            self._error(f"OP_MSG command without $db: {cmd!r}")
        if name in ("hello", "isMaster", "ismaster"):
            return self._hello(cmd)
        if name in ("ping", "endSessions"):
            return {"ok": 1.0}
        if name == "insert":
            return self._insert(cmd, seqs)
        return {"ok": 0.0, "errmsg": f"no such command: '{name}'", "code": 59,
                "codeName": "CommandNotFound"}

    def _insert(self, cmd, seqs):
        db, coll = cmd["$db"], cmd["insert"]
        if not self.store:
            with self.lock:
                self.count += len(seqs.get("documents", []))
            return {"n": len(seqs.get("documents", [])), "ok": 1.0}
        if "documents" not in seqs:
            self._error(f"insert without a document sequence (kind 1): {cmd!r}")
        docs = seqs.get("documents", []) + cmd.get("documents", [])
        if cmd.get("ordered", True) is not False:
            self._error("insert not unordered")
        with self.lock:
            n = self.inserts
            self.inserts += 1
        answer = self.policy(n, db, coll, docs) if self.policy else None
        if answer == "drop":
            return None
        refused = set(answer or [])
        with self.lock:
            store = self.docs.setdefault(f"{db}.{coll}", [])
            for i, d in enumerate(docs):
                if "_id" not in d:
                    self.errors.append(f"document without _id: {d!r}")
                if i not in refused:
                    store.append(d)
        reply = {"n": len(docs) - len(refused), "ok": 1.0}
        if refused:
            reply["writeErrors"] = [
                {"index": i, "code": 121, "errmsg": f"Document failed validation ({i})"}
                for i in sorted(refused)]
        return reply
