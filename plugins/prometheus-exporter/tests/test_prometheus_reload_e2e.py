# SPDX-License-Identifier: MIT
"""prometheus-exporter: changes of web_config_file and of its PEM files are
taken without restarting the agent, end to end.

The certificate and key lie in a folder laid out as Kubernetes mounts a
Secret (cert-manager's tls.crt and tls.key): tls.crt -> ..data/tls.crt,
..data -> ..<version>, and a rotation renames a new ..data link over the
old one. `openssl` makes a test CA and server certificates with chosen
serials; a new TLS connection (Python's ssl, verifying against the CA) must
get the serial of the certificate on disk, read by `openssl x509`, not by
the code under test. Then:

- a rotation (new key, new certificate of the same CA) is served;
- basic_auth_users gets another bcrypt hash (published crypt_blowfish test
  vectors): the old password gets 401, the new one 200;
- a broken PEM written in place keeps the last good certificate, with one
  exact error line per change however many connections come; so does a
  certificate whose key is another; a fixed one is served;
- removing tls_server_config is refused (the endpoint stays HTTPS).

A real Prometheus server (when installed) scrapes with a password file: it
gets 401 once the hash changes, on the connection it keeps open, and is up
again once its password file has the new password.

Polling uses a generous deadline. Skipped (exit 77) without openssl. Meson
passes ALUMET_E2E_AGENT, ALUMET_E2E_PLUGIN_DIR and PYTHONPATH (tests/e2e).
"""

import base64
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import urllib.error

from e2e_tls import have_openssl
from test_prometheus_e2e import (AGENT, PLUGIN_DIR, SKIP, Failure, Run, check, free_port,
                                 http_get, prom_api, wait_for)

# crypt_blowfish's test vectors (wrapper.c): bcrypt cost 5
OLD_PASSWORD, OLD_HASH = "U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
NEW_PASSWORD, NEW_HASH = "U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"
DEADLINE = 60


def openssl(cwd, *args, data=None):
    p = subprocess.run(["openssl", *args], cwd=cwd, input=data, capture_output=True,
                       timeout=60)
    check(p.returncode == 0, f"openssl {' '.join(args)}: {p.stderr.decode(errors='replace')}")
    return p.stdout


def make_ca(d):
    openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "2", "-subj", "/CN=alumet reload test CA")
    with open(os.path.join(d, "server.ext"), "w", encoding="utf-8") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")


def make_server_cert(d, name, serial):
    """name.key and name.crt (serial: a hex number), signed by the CA;
    returns the serial as openssl prints it."""
    openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", "/CN=localhost")
    openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-set_serial", f"0x{serial}", "-out", f"{name}.crt", "-days", "2",
            "-extfile", "server.ext")
    return openssl(d, "x509", "-in", f"{name}.crt", "-noout", "-serial").decode().strip()


def publish(tmp, secret, version, name):
    """Put name.crt and name.key as version of the Secret, as the kubelet
    does: a folder ..version, then ..data renamed over to point to it."""
    folder = os.path.join(secret, f"..{version}")
    os.mkdir(folder)
    for src, dst in ((f"{name}.crt", "tls.crt"), (f"{name}.key", "tls.key")):
        with open(os.path.join(tmp, src), "rb") as f, \
                open(os.path.join(folder, dst), "wb") as g:
            g.write(f.read())
    os.symlink(f"..{version}", os.path.join(secret, "..data_tmp"))
    os.rename(os.path.join(secret, "..data_tmp"), os.path.join(secret, "..data"))


def served_serial(tmp, port):
    """The serial of the certificate a new TLS connection gets."""
    ctx = ssl.create_default_context(cafile=os.path.join(tmp, "ca.crt"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            der = t.getpeercert(binary_form=True)
    return openssl(tmp, "x509", "-inform", "DER", "-noout", "-serial", data=der).decode().strip()


def get_status(tmp, port, user, password):
    """HTTP status of GET /metrics on a new connection."""
    ctx = ssl.create_default_context(cafile=os.path.join(tmp, "ca.crt"))
    c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    try:
        c.request("GET", "/metrics", headers={"Authorization": f"Basic {token}"})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def write_web(path, hash_, tls=True):
    text = ("tls_server_config:\n  cert_file: secret/tls.crt\n  key_file: secret/tls.key\n"
            if tls else "")
    text += f"basic_auth_users:\n  alice: '{hash_}'\n"
    # written elsewhere and renamed over: a reader never sees half a file
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def log_lines(agent, part):
    with open(agent.log, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if part in line]


def start_prometheus(run, port, agent):
    """A Prometheus server scraping the agent every second (None without
    the binary); returns a function waiting for a state of the target."""
    prometheus = shutil.which("prometheus")
    if not prometheus:
        print("note: no prometheus binary, its part is skipped")
        return None
    with open(run.path("password"), "w", encoding="utf-8") as f:
        f.write(OLD_PASSWORD)
    webport = free_port()
    with open(run.path("prometheus.yml"), "w", encoding="utf-8") as f:
        f.write(f"""\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: alumet
    scheme: https
    tls_config:
      ca_file: {run.path('ca.crt')}
    basic_auth:
      username: alice
      password_file: {run.path('password')}
    static_configs:
      - targets: ['localhost:{port}']
""")
    p = run.spawn("prometheus", [prometheus, "--config.file=prometheus.yml",
                                 f"--storage.tsdb.path={run.path('data')}",
                                 f"--web.listen-address=127.0.0.1:{webport}"])
    base = f"http://127.0.0.1:{webport}"
    logs = [p.log, agent.log]
    wait_for("prometheus to be ready", lambda: http_get(f"{base}/-/ready")[0] == 200, logs=logs)

    def target(cond, what):
        def ok():
            active = prom_api(base, "targets")["activeTargets"]
            return active and cond(active[0])
        wait_for(what, ok, timeout=DEADLINE, logs=logs)
    target(lambda t: t["health"] == "up", "Prometheus to scrape the rotated certificate")
    print("ok: Prometheus scrapes the endpoint")
    target.proc = p
    return target


def scenario(run):
    tmp = run.tmp
    make_ca(tmp)
    serial1 = make_server_cert(tmp, "s1", "1001")
    serial2 = make_server_cert(tmp, "s2", "2002")
    serial3 = make_server_cert(tmp, "s3", "3003")
    check(serial2 == "serial=2002", serial2)
    secret = run.path("secret")
    os.mkdir(secret)
    publish(tmp, secret, "v1", "s1")
    for f in ("tls.crt", "tls.key"):
        os.symlink(f"..data/{f}", os.path.join(secret, f))
    web = run.path("web.yml")
    write_web(web, OLD_HASH)
    agent = run.agent("agent", f"""\
[plugins.test-source]
poll_interval = "200ms"

[plugins.prometheus-exporter]
host = "127.0.0.1"
port = 0
web_config_file = "{web}"
""")
    port = agent.port
    check(served_serial(tmp, port) == serial1, "first certificate")
    check(get_status(tmp, port, "alice", OLD_PASSWORD) == 200, "old password at start")
    taken = f"web_config_file '{web}' changed: new connections and requests use it"

    # 1. cert-manager's rotation: a new ..data
    publish(tmp, secret, "v2", "s2")
    wait_for("the rotated certificate", lambda: served_serial(tmp, port) == serial2,
             timeout=DEADLINE, logs=[agent.log])
    check(len(log_lines(agent, taken)) == 1, log_lines(agent, "web_config_file"))
    print(f"ok: after the rotation of the Secret, a new connection gets {serial2} "
          f"(was {serial1})")

    prom = start_prometheus(run, port, agent)

    # 2. another password for alice
    write_web(web, NEW_HASH)
    wait_for("the old password refused",
             lambda: get_status(tmp, port, "alice", OLD_PASSWORD) == 401, timeout=DEADLINE,
             logs=[agent.log])
    check(get_status(tmp, port, "alice", NEW_PASSWORD) == 200, "new password")
    check(get_status(tmp, port, "alice", OLD_PASSWORD) == 401, "old password again")
    check(len(log_lines(agent, taken)) == 2, log_lines(agent, "web_config_file"))
    print("ok: a new bcrypt hash in basic_auth_users: old password 401, new one 200")
    if prom:
        # Prometheus, on the connection it keeps open, gets 401 with the old
        # password, and scrapes again once it has the new one
        prom(lambda t: t["health"] == "down"
             and "401 Unauthorized" in t["lastError"], "Prometheus refused (401)")
        with open(run.path("password"), "w", encoding="utf-8") as f:
            f.write(NEW_PASSWORD)
        prom(lambda t: t["health"] == "up", "Prometheus up with the new password")
        print("ok: Prometheus got 401 after the change, up again with the new password")
        # no scrape from now on: the files below are written in place, and a
        # scrape between the truncation and the write would see them empty
        prom.proc.terminate()
        prom.proc.wait(timeout=30)

    # 3. a broken certificate written in place (through the links)
    cert_path = os.path.join(os.path.dirname(web), "secret/tls.crt")
    with open(cert_path, "w", encoding="utf-8") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
    want = (f"ERROR prometheus-exporter: cannot reload: web_config_file '{web}': cert_file "
            f"'{cert_path}' is not a valid PEM certificate: Base64 unexpected header error.; the "
            "endpoint keeps the previous configuration")
    # the files are checked when a connection comes
    wait_for("the error about the broken certificate",
             lambda: served_serial(tmp, port) and log_lines(agent, "cannot reload"),
             timeout=DEADLINE, logs=[agent.log])
    for _ in range(5):
        check(served_serial(tmp, port) == serial2, "the last good certificate")
    check(get_status(tmp, port, "alice", NEW_PASSWORD) == 200, "password with the broken file")
    errors = log_lines(agent, "cannot reload")
    check(len(errors) == 1 and errors[0].endswith(want), f"expected once:\n{want}\ngot {errors}")
    print("ok: a broken PEM keeps the last good certificate, one error line:\n  " + want)

    # fixed in place: served
    with open(run.path("s3.crt"), encoding="utf-8") as f:
        good = f.read()
    with open(run.path("s3.key"), encoding="utf-8") as f:
        good_key = f.read()
    with open(run.path("s1.crt"), encoding="utf-8") as f:
        s1_cert = f.read()
    # the key first: until the certificate follows, they do not match
    key_path = os.path.join(os.path.dirname(web), "secret/tls.key")
    with open(key_path, "w", encoding="utf-8") as f:
        f.write(good_key)
    mismatch = (f"ERROR prometheus-exporter: cannot reload: web_config_file '{web}': cert_file "
                f"'{cert_path}' is not a valid PEM certificate: Base64 unexpected header error.;")
    wait_for("a second error", lambda: served_serial(tmp, port)
             and len(log_lines(agent, "cannot reload")) == 2, timeout=DEADLINE, logs=[agent.log])
    errors = log_lines(agent, "cannot reload")
    check(errors[1].endswith(mismatch + " the endpoint keeps the previous configuration"),
          errors)
    with open(cert_path + ".new", "w", encoding="utf-8") as f:
        f.write(s1_cert)
    os.rename(cert_path + ".new", os.path.realpath(cert_path))
    mismatch = (f"ERROR prometheus-exporter: cannot reload: web_config_file '{web}': cert_file "
                f"'{cert_path}' and key_file '{key_path}' do not go together: The certificate "
                "and the given key do not match.; the endpoint keeps the previous configuration")
    wait_for("the error about the key", lambda: served_serial(tmp, port)
             and len(log_lines(agent, "cannot reload")) == 3, timeout=DEADLINE, logs=[agent.log])
    errors = log_lines(agent, "cannot reload")
    check(errors[2].endswith(mismatch), f"expected:\n{mismatch}\ngot {errors[2]}")
    check(served_serial(tmp, port) == serial2, "the last good certificate")
    print("ok: a certificate with another key is refused:\n  " + mismatch)
    with open(cert_path, "w", encoding="utf-8") as f:
        f.write(good)
    wait_for("the fixed certificate", lambda: served_serial(tmp, port) == serial3,
             timeout=DEADLINE, logs=[agent.log])
    check(len(log_lines(agent, taken)) == 3, log_lines(agent, "web_config_file"))
    print(f"ok: the fixed certificate is served ({serial3})")

    # 4. plain HTTP needs a restart
    write_web(web, NEW_HASH, tls=False)
    refused = (f"cannot reload: web_config_file '{web}': removes tls_server_config, which needs "
               "a restart of the agent (the endpoint stays in HTTPS); the endpoint keeps the "
               "previous configuration")
    wait_for("the refusal of plain HTTP",
             lambda: served_serial(tmp, port) and any(
                 line.endswith(refused) for line in log_lines(agent, "cannot reload")),
             timeout=DEADLINE, logs=[agent.log])
    check(served_serial(tmp, port) == serial3, "still HTTPS")
    check(agent.poll() is None, "the agent stopped")
    print("ok: removing tls_server_config is refused, the endpoint stays HTTPS")
    return 0


def main():
    if not have_openssl():
        print("SKIP: no openssl binary (Debian package 'openssl')")
        return SKIP
    if not AGENT or not os.access(AGENT, os.X_OK) or not PLUGIN_DIR:
        print("SKIP: ALUMET_E2E_AGENT/ALUMET_E2E_PLUGIN_DIR not set (run through meson test)")
        return SKIP
    with tempfile.TemporaryDirectory(prefix="alumet-e2e-prom-reload-") as tmp:
        run = Run(tmp)
        try:
            return scenario(run)
        finally:
            run.stop_all()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (Failure, urllib.error.URLError) as e:
        print(f"FAIL: {e}")
        sys.exit(1)
