# SPDX-License-Identifier: MIT
"""prometheus-exporter with web_config_file (TLS, client certificates, basic
authentication), end to end.

A test CA, a server certificate and client certificates are made by
`openssl`. The agent serves test-source's counter over TLS with
RequireAndVerifyClientCert and one basic-auth user, whose bcrypt hash is a
published test vector of crypt_blowfish ("U*U"), not one made by the code
under test. A real Prometheus server scrapes it (scheme https, tls_config,
basic_auth) and the test reads up == 1 and the series from its API. curl
checks the refusals: no password or a wrong one (401 with WWW-Authenticate),
no client certificate or one of another CA (403), no CA to verify the server
(curl fails). Finally, mistakes in the file stop the agent with the file,
the line and what to do.

Skipped (exit 77) without prometheus, curl or openssl. Meson passes
ALUMET_E2E_AGENT, ALUMET_E2E_PLUGIN_DIR and PYTHONPATH (tests/e2e).
"""

import os
import shutil
import subprocess
import sys
import tempfile

from e2e_tls import have_openssl, make_pki
from test_prometheus_e2e import (AGENT, PLUGIN_DIR, SKIP, Failure, Run, check, free_port,
                                 http_get, prom_api, wait_for)

# crypt_blowfish's test vector: bcrypt("U*U", cost 5), in its $2y$ spelling
USER, PASSWORD = "alice", "U*U"
HASH = "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"


def curl(pki, port, *args):
    """(exit code, HTTP status, headers) of curl on the endpoint."""
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}",
                        *args, f"https://localhost:{port}/metrics"],
                       capture_output=True, text=True, timeout=30)
    out = p.stdout
    status = out[-3:] if len(out) >= 3 else ""
    return p.returncode, status, out[:-3], p.stderr


def write_web_config(run, pki, extra="", user=f"{USER}: '{HASH}'", min_version="TLS12"):
    path = run.path("web.yml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"""\
# the exporter-toolkit's format, as node_exporter's --web.config.file
tls_server_config:
  cert_file: {os.path.basename(pki['server_cert'])}
  key_file: {os.path.basename(pki['server_key'])}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: {pki['ca']}
  min_version: {min_version}
basic_auth_users:
  {user}
{extra}""")
    return path


def check_refusals(pki, port):
    cert = ["--cert", pki["client_cert"], "--key", pki["client_key"]]
    ok = ["--cacert", pki["ca"], *cert]

    rc, status, headers, err = curl(pki, port, *ok, "-u", f"{USER}:{PASSWORD}")
    check(rc == 0 and status == "200", f"good credentials: curl {rc} HTTP {status} {err}")
    check("x-content-type-options: nosniff" in headers.lower(), headers)

    rc, status, headers, err = curl(pki, port, *ok, "-u", f"{USER}:wrong")
    check(rc == 0 and status == "401", f"wrong password: curl {rc} HTTP {status} {err}")
    check('WWW-Authenticate: Basic realm="alumet"' in headers, headers)
    rc, status, headers, err = curl(pki, port, *ok, "-u", f"bob:{PASSWORD}")
    check(status == "401", f"unknown user: HTTP {status}")
    rc, status, headers, err = curl(pki, port, *ok)
    check(rc == 0 and status == "401", f"no credentials: curl {rc} HTTP {status} {err}")
    check('WWW-Authenticate: Basic realm="alumet"' in headers, headers)

    rc, status, _, err = curl(pki, port, "--cacert", pki["ca"], "-u", f"{USER}:{PASSWORD}")
    check(status == "403", f"no client certificate: curl {rc} HTTP {status} {err}")
    rc, status, _, err = curl(pki, port, "--cacert", pki["ca"], "--cert", pki["rogue_cert"],
                              "--key", pki["rogue_key"], "-u", f"{USER}:{PASSWORD}")
    check(rc == 0 and status == "403",
          f"certificate of another CA: curl {rc} HTTP {status} {err}")

    # without the test CA, curl cannot verify the server (60: peer certificate)
    rc, status, _, err = curl(pki, port, *cert, "-u", f"{USER}:{PASSWORD}")
    check(rc == 60 and status == "000", f"no CA: curl {rc} HTTP {status} {err}")
    # TLS below min_version
    rc, _, _, err = curl(pki, port, *ok, "-u", f"{USER}:{PASSWORD}", "--tlsv1.0",
                         "--tls-max", "1.1")
    check(rc != 0, f"TLS 1.1 accepted: {err}")
    print("ok: curl 200 with the CA, certificate and password; 401 (WWW-Authenticate) without "
          "or with a wrong password; 403 without a client certificate or with one of another CA; exit 60 without the CA")


def check_config_errors(run, pki):
    """A mistake in web_config_file stops the agent at start, naming the
    file, the line and what to do."""
    cases = [
        ({"user": "bob: plain-text"}, "line 9: the password of user 'bob' is not a bcrypt hash"),
        ({"extra": "rate_limit:\n  burst: 2\n"}, "line 10: 'rate_limit' is not supported"),
        ({"extra": "tls_server_config: {}\n"}, "line 10: 'tls_server_config' is given twice"),
        ({"min_version": "TLS14"}, "line 7: 'min_version': expected \"TLS10\""),
        ({"extra": "basic_auth_users: [\n"}, "fix the YAML"),
    ]
    for i, (args, want) in enumerate(cases):
        web = write_web_config(run, pki, **args)
        with open(run.path(f"bad{i}.toml"), "w", encoding="utf-8") as f:
            f.write(f'[plugins.prometheus-exporter]\nhost = "127.0.0.1"\nport = 0\n'
                    f'web_config_file = "{web}"\n')
        p = subprocess.run([AGENT, "--plugin-dir", PLUGIN_DIR, "--config", f"bad{i}.toml", "run"],
                           cwd=run.tmp, capture_output=True, text=True, timeout=60)
        out = p.stdout + p.stderr
        check(p.returncode != 0, f"case {i}: the agent started:\n{out}")
        check(f"web_config_file '{web}'" in out and want in out,
              f"case {i}: expected '{want}' in:\n{out}")
    missing = run.path("missing.yml")
    with open(run.path("bad.toml"), "w", encoding="utf-8") as f:
        f.write(f'[plugins.prometheus-exporter]\nweb_config_file = "{missing}"\n')
    p = subprocess.run([AGENT, "--plugin-dir", PLUGIN_DIR, "--config", "bad.toml", "run"],
                       cwd=run.tmp, capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    check(p.returncode != 0 and f"cannot read the web_config_file '{missing}': No such file"
          in out, out)
    print(f"ok: {len(cases) + 1} mistakes in web_config_file refused with their line")


def scenario(run, prometheus):
    pki = make_pki(run.tmp)
    web = write_web_config(run, pki, "http_server_config:\n  headers:\n"
                                     "    X-Content-Type-Options: nosniff\n")
    agent = run.agent("agent", f"""\
[plugins.test-source]
poll_interval = "200ms"
count_file = "count"

[plugins.prometheus-exporter]
host = "127.0.0.1"
port = 0
prefix = "sec_"
web_config_file = "{web}"
""")
    log = open(agent.log, encoding="utf-8").read()
    check(", over TLS (https), basic authentication, client certificates" in log, log)
    check_refusals(pki, agent.port)

    webport = free_port()
    with open(run.path("prometheus.yml"), "w", encoding="utf-8") as f:
        f.write(f"""\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: alumet
    scheme: https
    tls_config:
      ca_file: {pki['ca']}
      cert_file: {pki['client_cert']}
      key_file: {pki['client_key']}
    basic_auth:
      username: {USER}
      password: '{PASSWORD}'
    static_configs:
      - targets: ['localhost:{agent.port}']
""")
    prom = run.spawn("prometheus", [prometheus, "--config.file=prometheus.yml",
                                    f"--storage.tsdb.path={run.path('data')}",
                                    f"--web.listen-address=127.0.0.1:{webport}"])
    base = f"http://127.0.0.1:{webport}"
    logs = [prom.log, agent.log]
    wait_for("prometheus to be ready", lambda: http_get(f"{base}/-/ready")[0] == 200, logs=logs)

    def up():
        r = prom_api(base, "query", query='up{job="alumet"}')["result"]
        return r and r[0]["value"][1] == "1" and r
    r = wait_for("up == 1 for the exporter over TLS", up, logs=logs)
    check(r[0]["metric"]["instance"] == f"localhost:{agent.port}", r)
    series = wait_for("the series sec_test_counter_alumet",
                      lambda: prom_api(base, "query", query="sec_test_counter_alumet")["result"],
                      logs=logs)
    check(len(series) == 1 and series[0]["metric"]["job"] == "alumet", series)
    value = float(series[0]["value"][1])
    produced = int(open(run.path("count"), encoding="utf-8").read())
    check(value == int(value) and 0 <= value < produced, f"{value}, produced {produced}")
    active = prom_api(base, "targets")["activeTargets"]
    check(active[0]["scrapeUrl"] == f"https://localhost:{agent.port}/metrics"
          and active[0]["health"] == "up", active)
    print(f"ok: Prometheus scraped https://localhost:{agent.port}/metrics (up == 1, "
          f"sec_test_counter_alumet = {value})")
    check_config_errors(run, pki)
    return 0


def main():
    prometheus = shutil.which("prometheus")
    for what, ok in (("prometheus", prometheus), ("curl", shutil.which("curl")),
                     ("openssl", have_openssl())):
        if not ok:
            print(f"SKIP: no {what} binary (Debian package '{what}')")
            return SKIP
    if not AGENT or not os.access(AGENT, os.X_OK) or not PLUGIN_DIR:
        print("SKIP: ALUMET_E2E_AGENT/ALUMET_E2E_PLUGIN_DIR not set (run through meson test)")
        return SKIP
    with tempfile.TemporaryDirectory(prefix="alumet-e2e-prom-tls-") as tmp:
        run = Run(tmp)
        try:
            return scenario(run, prometheus)
        finally:
            run.stop_all()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
