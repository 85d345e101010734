# SPDX-License-Identifier: MIT
"""A counting sink for bench/run-db-outputs.sh: the fake MongoDB server
(plugins/mongodb/tests/fake_mongod.py) or the fake Elasticsearch
(plugins/elasticsearch/tests/fake_es.py) in count-only mode. Prints its port
on the first line, then, when stdin closes, the number of documents it
received."""

import os
import sys

src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path[:0] = [os.path.join(src, "plugins", "mongodb", "tests"),
                os.path.join(src, "plugins", "elasticsearch", "tests")]

kind = sys.argv[1]
if kind == "mongodb":
    from fake_mongod import FakeMongod
    sink = FakeMongod(store=False)
else:
    from fake_es import FakeES
    sink = FakeES(auth=None, store=False)
print(sink.port, flush=True)
sys.stdin.read()
print(sink.count, flush=True)
