# SPDX-License-Identifier: MIT
"""End to end: the built agent runs `--plugins k8s,csv` on the fixture tree
tests/fixtures/cgroup/k8s-v2 (and k8s-v1-cgroupfs) (proc_root = sys_root = a copy) against a fake
Kubernetes API server: Python's http.server over HTTPS, with a self-signed
certificate made here by the openssl CLI (the agent checks it through
k8s_ca_file), that demands the bearer token and answers
GET /api/v1/pods?fieldSelector=spec.nodeName%3D<node> with a PodList holding
the fields the plugin reads (and a pod of another node, which it drops).

Cases:
1. API up: the points of the two pod cgroups (and only those) carry
   uid, name, namespace, node with the fixture's exact values; the server
   saw the right token and field selector.
2. annotate_containers = true: the container's cgroup as well, with the
   pod's labels and container_id.
3. A refused token, then the right one written to the token file: uid and
   node only with a warning naming the 401, then the full labels (the file
   is re-read at each list) and a line saying the API answers again.
4. token_retrieval through kubectl (a fake one in PATH): its arguments
   (service account, namespace) and the full labels.
5. cgroup v1 with the cgroupfs driver (fixture k8s-v1-cgroupfs): the pod
   cgroups /kubepods/<qos>/pod<uid> with CPU time and memory, full labels.
6. annotate_foreign_measurements with the cgroups plugin on the same tree:
   its points of the pods' cgroups (the container's too) gain the labels,
   the others (/system.slice, /kubepods.slice) none.
7. API down (nothing listens): a loud warning, and the same points labelled
   with uid and node only.
8. API down, kubelet_url set: a fake kubelet (HTTPS, GET /pods, same token)
   gives the full labels, with a warning naming both.
Skipped when openssl is absent. Python 3 standard library only."""
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from e2e_common import AGENT, check, read_csv_rows, skip_reason, summary

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests",
                        "fixtures", "cgroup")
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbHVtZXQifQ.c2lnbmF0dXJl"
NODE = "node-7"
UID1 = "5f32d849-6210-4886-a48d-e0d90e1d0206"
UID2 = "0c3f7d6e-1b2a-4c5d-9e8f-a1b2c3d4e5f6"
POD1 = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice" % \
    UID1.replace("-", "_")
POD2 = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice" % \
    UID2.replace("-", "_")
CID = "4c1a7e0b9f2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90"
CONTAINER = POD1 + "/cri-containerd-%s.scope" % CID
PODLIST = {
    "kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1234"},
    "items": [
        {"metadata": {"name": "web-7d9f", "namespace": "shop", "uid": UID1,
                      "labels": {"app": "web"}, "annotations": {"x": "a \"quoted\" \\ value"}},
         "spec": {"nodeName": NODE, "containers": [{"name": "web", "image": "nginx:1.25"}],
                  "priority": 0, "hostNetwork": False},
         "status": {"phase": "Running", "podIP": None}},
        {"metadata": {"name": "batch-x1", "namespace": "jobs", "uid": UID2},
         "spec": {"nodeName": NODE}, "status": {"phase": "Running"}},
        {"metadata": {"name": "elsewhere", "namespace": "shop",
                      "uid": "11111111-2222-3333-4444-555555555555"},
         "spec": {"nodeName": "node-8"}},
    ],
}


class FakeApi(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):
        FakeApi.seen.append((self.path, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            body, status = b'{"kind":"Status","code":401,"message":"Unauthorized"}', 401
        elif self.path != "/api/v1/pods?fieldSelector=spec.nodeName%3D" + NODE:
            body, status = b'{"kind":"Status","code":404}', 404
        else:
            body, status = json.dumps(PODLIST).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class FakeKubelet(FakeApi):
    """The kubelet's read-only pod list of its node: GET /pods (all pods of
    the node, no field selector) with the same bearer token."""
    seen = []

    def do_GET(self):
        FakeKubelet.seen.append((self.path, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            body, status = b'Unauthorized', 401
        elif self.path != "/pods":
            body, status = b'404 page not found', 404
        else:
            body, status = json.dumps(PODLIST).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_fake_api(tmp, handler=None):
    """A fake server (handler: FakeApi by default) over TLS on a free
    loopback port, serving from a thread, with a self-signed certificate for
    127.0.0.1 in tmp/cert.pem (the agent's k8s_ca_file) and tmp/key.pem, made
    by the openssl command when it is not there yet. Returns the server (its
    address: server.server_address)."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=60)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler or FakeApi)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_agent(tmp, url, extra="", done=None, step=None, path=None, fixture="k8s-v2",
              plugins="k8s,csv", k8s_sources=True):
    """Run the agent on a fresh copy of the fixture until done(rows) (default:
    3 polls of POD1's memory_usage); step(rows) runs at every look. Returns
    (rows, log text). path: a directory put first in the agent's PATH."""
    root = os.path.join(tmp, "root")
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(os.path.join(FIXTURES, fixture), root)
    out = os.path.join(tmp, "out.csv")
    if os.path.exists(out):
        os.unlink(out)
    cfg = os.path.join(tmp, "alumet.toml")
    with open(cfg, "w") as f:
        f.write('[plugins.k8s]\npoll_interval = "1s"\ndisable_sources = %s\n'
                'k8s_node = "%s"\nk8s_api_url = "%s/"\n'
                '%s'
                'k8s_ca_file = "%s"\nproc_root = "%s"\nsys_root = "%s"\n%s'
                '[plugins.cgroups]\npoll_interval = "1s"\ndisable_sources = false\n'
                'proc_root = "%s"\nsys_root = "%s"\n'
                '[plugins.csv]\noutput_path = "%s"\n'
                % ("false" if k8s_sources else "true", NODE, url, "" if "token_retrieval" in extra
                   else 'token_retrieval.file = "%s"\n' % os.path.join(tmp, "token"),
                   os.path.join(tmp, "cert.pem"), root,
                   root, extra if "annotate_containers" in extra
                   else extra + "annotate_containers = false\n", root, root, out))
    if done is None:
        def done(rows):
            return sum(1 for r in rows if r["metric"] == "memory_usage_B"
                       and "burstable" in r["consumer_id"]) >= 3
    env = dict(os.environ, ALUMET_LOG="info")
    if path:
        env["PATH"] = path + os.pathsep + env.get("PATH", "")
    log_path = os.path.join(tmp, "agent.log")
    with open(log_path, "w") as log:
        agent = subprocess.Popen([AGENT, "--plugins", plugins, "--config", cfg,
                                  "--no-default-config", "run"], stdout=log, stderr=log,
                                 cwd=tmp, env=env)
        rows = []
        deadline = time.monotonic() + 90
        try:
            while time.monotonic() < deadline and agent.poll() is None:
                time.sleep(0.5)
                if not os.path.exists(out):
                    continue
                with open(out) as f:
                    text = f.read()
                if "\n" not in text:
                    continue
                snap = os.path.join(tmp, "snap.csv")
                with open(snap, "w") as f:
                    f.write(text[:text.rindex("\n") + 1])
                rows = read_csv_rows(snap)
                if step:
                    step(rows)
                if done(rows):
                    break
        finally:
            agent.terminate()
            rc = agent.wait(30)
    with open(log_path) as f:
        log = f.read()
    # a sanitizer build reports here (leaks at exit, undefined behaviour)
    check(rc == 0 and "Sanitizer" not in log and "runtime error:" not in log,
          "the agent exited with %d: %s" % (rc, log[-3000:]))
    return rows, log


def check_points(rows, labels1, labels2, container=None):
    """The exact points of the fixture: POD1 and POD2 only, memory values,
    zero CPU deltas from the 2nd poll on, and the labels. The csv plugin
    appends the unit to the metric names (memory_usage_B)."""
    consumers = {r["consumer_id"] for r in rows}
    cases = [(POD1, labels1, "1048576", "8388608"), (POD2, labels2, "2097152", "-1")]
    if container:
        cases.append((CONTAINER, container, "524288", "-1"))
    check(consumers == {c[0] for c in cases}, "consumers: %r" % sorted(consumers))
    for cpath, labels, mem, mmax in cases:
        mine = [r for r in rows if r["consumer_id"] == cpath]
        by = {}
        for r in mine:
            by.setdefault(r["metric"], []).append(r)
        check(by.get("memory_usage_B") and all(r["value"] == mem for r in by["memory_usage_B"]),
              "%s memory_usage: %r" % (cpath, [r["value"] for r in by.get("memory_usage_B", [])]))
        check(by.get("memory_max_B") and all(float(r["value"]) == float(mmax)
                                             for r in by["memory_max_B"]),
              "%s memory_max" % cpath)
        cpu = by.get("cpu_time_delta_ns", [])
        check(cpu and {r["attrs"].get("kind") for r in cpu} == {"total", "user", "system"}
              and all(r["value"] == "0" for r in cpu), "%s cpu_time_delta: %r" % (cpath, cpu[:3]))
        for r in mine:
            got = {k: v for k, v in r["attrs"].items() if k != "kind"}
            check(got == labels, "%s %s attributes: %r, expected %r"
                  % (cpath, r["metric"], got, labels))
            check(r["resource_kind"] == "local_machine", "resource: %r" % r["resource_kind"])
            check(r["consumer_kind"] == "cgroup", "consumer kind: %r" % r["consumer_kind"])


def main():
    reason = skip_reason(("k8s", "csv"))
    if not reason and not shutil.which("openssl"):
        reason = "the openssl command is not installed (needed to make the test certificate)"
    if reason:
        print("SKIP: " + reason)
        return 77
    tmp = tempfile.mkdtemp(prefix="alumet-k8s-")
    try:
        with open(os.path.join(tmp, "token"), "w") as f:
            f.write(TOKEN + "\n")
        server = start_fake_api(tmp)
        url = "https://127.0.0.1:%d" % server.server_address[1]

        # 1. API up
        rows, log = run_agent(tmp, url)
        check_points(rows,
                     {"uid": UID1, "name": "web-7d9f", "namespace": "shop", "node": NODE},
                     {"uid": UID2, "name": "batch-x1", "namespace": "jobs", "node": NODE})
        check(FakeApi.seen and all(s == ("/api/v1/pods?fieldSelector=spec.nodeName%3D"
                                         + NODE, "Bearer " + TOKEN) for s in FakeApi.seen),
              "requests: %r" % FakeApi.seen)
        check("2 pods on node 'node-7'" in log, "log: %s" % log)
        # 2. annotate_containers: the container cgroup too, with its id
        rows, log = run_agent(tmp, url, "annotate_containers = true\n")
        full1 = {"uid": UID1, "name": "web-7d9f", "namespace": "shop", "node": NODE}
        check_points(rows, full1,
                     {"uid": UID2, "name": "batch-x1", "namespace": "jobs", "node": NODE},
                     dict(full1, container_id=CID))

        # 3. the token is refused, then fixed: uid-only labels, a warning,
        # then the full labels once the token file (re-read) is right
        with open(os.path.join(tmp, "token"), "w") as f:
            f.write("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvbGQifQ.b2xk\n")
        FakeApi.seen.clear()

        def fix_token(rows):
            if any(r["consumer_id"] == POD1 for r in rows):
                with open(os.path.join(tmp, "token"), "w") as f:
                    f.write(TOKEN)

        rows, log = run_agent(tmp, url, 'api_retry_interval = "1s"\n',
                              done=lambda rows: any("name" in r["attrs"] for r in rows),
                              step=fix_token)
        first = [r for r in rows if r["consumer_id"] == POD1][0]
        check({k: v for k, v in first["attrs"].items() if k != "kind"}
              == {"uid": UID1, "node": NODE}, "first labels: %r" % first["attrs"])
        named = [r for r in rows if r["consumer_id"] == POD1 and "name" in r["attrs"]]
        check(named and {k: v for k, v in named[-1]["attrs"].items() if k != "kind"} == full1,
              "labels once the token is right: %r" % (named[-1]["attrs"] if named else None))
        check("HTTP status 401 (is the token valid, may it list pods?)" in log,
              "no 401 warning in the log: %s" % log)
        check("the K8S API answers again: 2 pods on node 'node-7'" in log,
              "no recovery line in the log: %s" % log)
        check(FakeApi.seen[0][1] != "Bearer " + TOKEN and FakeApi.seen[-1][1] == "Bearer " + TOKEN,
              "tokens sent: %r" % [t for _, t in FakeApi.seen])

        # 4. the token from kubectl (a fake one in PATH that records its
        # arguments and prints the token with a final newline)
        bin_dir = os.path.join(tmp, "bin")
        os.makedirs(bin_dir, exist_ok=True)
        with open(os.path.join(bin_dir, "kubectl"), "w") as f:
            f.write("#!/bin/sh\necho \"$*\" >> '%s'\necho '%s'\n"
                    % (os.path.join(tmp, "kubectl-args"), TOKEN))
        os.chmod(os.path.join(bin_dir, "kubectl"), 0o755)
        FakeApi.seen.clear()
        rows, log = run_agent(tmp, url, 'token_retrieval = { kubectl = { service_account = '
                              '"reader", namespace = "mon" } }\n', path=bin_dir)
        check_points(rows, full1,
                     {"uid": UID2, "name": "batch-x1", "namespace": "jobs", "node": NODE})
        with open(os.path.join(tmp, "kubectl-args")) as f:
            check(f.read() == "create token reader -n mon\n", "kubectl arguments")
        check(FakeApi.seen and FakeApi.seen[0][1] == "Bearer " + TOKEN,
              "kubectl token: %r" % FakeApi.seen)

        # 5. cgroup v1, cgroupfs driver (cpu,cpuacct and memory hierarchies):
        # pod cgroups /kubepods/<qos>/pod<uid>, CPU time from cpuacct.usage
        rows, log = run_agent(tmp, url, fixture="k8s-v1-cgroupfs")
        v1pods = {"/kubepods/burstable/pod" + UID1: (full1, "3145728"),
                  "/kubepods/besteffort/pod" + UID2:
                  ({"uid": UID2, "name": "batch-x1", "namespace": "jobs", "node": NODE},
                   "4194304")}
        check({r["consumer_id"] for r in rows} == set(v1pods),
              "v1 consumers: %r" % sorted({r["consumer_id"] for r in rows}))
        for cpath, (labels, mem) in v1pods.items():
            mine = [r for r in rows if r["consumer_id"] == cpath]
            check({r["metric"] for r in mine} == {"memory_usage_B", "cpu_time_delta_ns",
                                                  "cpu_percent_%"},
                  "v1 metrics of %s: %r" % (cpath, sorted({r["metric"] for r in mine})))
            check(all(r["value"] == mem for r in mine if r["metric"] == "memory_usage_B"),
                  "v1 memory of %s" % cpath)
            cpu = [r for r in mine if r["metric"] == "cpu_time_delta_ns"]
            check(cpu and all(r["value"] == "0" and r["attrs"].get("kind") == "total"
                              for r in cpu), "v1 cpu of %s: %r" % (cpath, cpu[:2]))
            check(all({k: v for k, v in r["attrs"].items() if k != "kind"} == labels
                      for r in mine), "v1 labels of %s" % cpath)

        # 6. annotate_foreign_measurements: the points of the cgroups plugin
        # (before k8s) for the cgroups in pods gain the labels; the others not
        rows, log = run_agent(tmp, url, "annotate_foreign_measurements = true\n",
                              plugins="cgroups,k8s,csv", k8s_sources=False)
        by_consumer = {}
        for r in rows:
            labels = {k: v for k, v in r["attrs"].items() if k != "kind"}
            by_consumer.setdefault(r["consumer_id"], set()).add(tuple(sorted(labels.items())))
        want = {POD1: full1, CONTAINER: full1,
                POD2: {"uid": UID2, "name": "batch-x1", "namespace": "jobs", "node": NODE}}
        for cpath, labels in want.items():
            check(by_consumer.get(cpath) == {tuple(sorted(labels.items()))},
                  "annotated labels of %s: %r" % (cpath, by_consumer.get(cpath)))
        for cpath in ("/system.slice", "/kubepods.slice"):
            check(by_consumer.get(cpath) == {()},
                  "labels of %s (not a pod): %r" % (cpath, by_consumer.get(cpath)))

        # 7. API down
        server.shutdown()
        server.server_close()
        rows, log = run_agent(tmp, "https://127.0.0.1:%d" % free_port())
        check("WARN" in log and "failed to list pods with the K8S API" in log
              and "labelled with their uid (from the cgroup path) and node only" in log,
              "no loud warning in the log: %s" % log)
        check_points(rows, {"uid": UID1, "node": NODE}, {"uid": UID2, "node": NODE})

        # 8. API down, the kubelet answers: full labels, one warning
        kubelet = start_fake_api(tmp, FakeKubelet)
        kport = kubelet.server_address[1]
        down = "https://127.0.0.1:%d" % free_port()
        try:
            rows, log = run_agent(tmp, down, 'kubelet_url = "https://127.0.0.1:%d/"\n' % kport)
        finally:
            kubelet.shutdown()
            kubelet.server_close()
        check_points(rows, full1,
                     {"uid": UID2, "name": "batch-x1", "namespace": "jobs", "node": NODE})
        check(FakeKubelet.seen and all(s == ("/pods", "Bearer " + TOKEN)
                                       for s in FakeKubelet.seen),
              "kubelet requests: %r" % FakeKubelet.seen)
        want = ("the K8S API server cannot list the pods (GET %s/api/v1/pods?fieldSelector="
                "spec.nodeName%%3D%s: " % (down, NODE))
        check(want in log and "the 2 pods of node 'node-7' are listed by the kubelet "
              "(https://127.0.0.1:%d/pods) until it can" % kport in log,
              "no kubelet warning in the log: %s" % log)
        check("failed to list pods" not in log, "a failure logged although the kubelet "
              "answered: %s" % log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary(8)


if __name__ == "__main__":
    sys.exit(main())
