# SPDX-License-Identifier: MIT
"""A throwaway PKI for the TLS tests, made by the `openssl` command: a test
CA, a server certificate for localhost and 127.0.0.1, a client certificate
signed by the same CA, and a rogue client certificate (self-signed, another
CA). Keys are unencrypted PEM, valid two days.
"""

import os
import shutil
import subprocess


def have_openssl():
    return shutil.which("openssl") is not None


def _openssl(cwd, *args):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)}: exit {p.returncode}\n{p.stderr}")


def make_pki(d):
    """Write the files into folder d; returns {name: path}: ca, server_cert,
    server_key, client_cert, client_key, rogue_cert, rogue_key."""
    def key_and_csr(name, cn):
        _openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", "-subj", f"/CN={cn}")

    _openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.crt", "-days", "2", "-subj", "/CN=alumet test CA")
    with open(os.path.join(d, "server.ext"), "w", encoding="utf-8") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "extendedKeyUsage=serverAuth\n")
    with open(os.path.join(d, "client.ext"), "w", encoding="utf-8") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    key_and_csr("server", "localhost")
    _openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
    key_and_csr("client", "alumet-agent")
    _openssl(d, "x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "client.crt", "-days", "2", "-extfile", "client.ext")
    _openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key",
             "-out", "rogue.crt", "-days", "2", "-subj", "/CN=rogue")
    p = lambda n: os.path.join(d, n)  # noqa: E731
    return {"ca": p("ca.crt"), "server_cert": p("server.crt"), "server_key": p("server.key"),
            "client_cert": p("client.crt"), "client_key": p("client.key"),
            "rogue_cert": p("rogue.crt"), "rogue_key": p("rogue.key")}
