"""dockerd on tcp:// only with mutual TLS: the real docker CLI with a
client certificate gets in, one without does not, and plain tcp is
refused at start with the flags to give."""
import os
import socket
import subprocess

import pytest


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate in d."""
    d.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
             "-days", "1", "-subj", "/CN=test-ca", cwd=d)
    for name, usage, san in (("server", "serverAuth", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"),
                             ("client", "clientAuth", "")):
        (d / f"{name}.ext").write_text(f"{san}extendedKeyUsage={usage}\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                 "-CAcreateserial", "-out", f"{name}-cert.pem", "-days", "1", "-extfile", f"{name}.ext", cwd=d)
    return d


@pytest.fixture
def certs(tmp_path):
    return make_certs(tmp_path / "certs")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_with_mutual_tls(dockerd, certs):
    port = _free_port()
    dockerd.stop()
    dockerd.start("-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
                  "--tlscert", str(certs / "server-cert.pem"), "--tlskey", str(certs / "server-key.pem"))
    tls = ["--tlsverify", "--tlscacert", str(certs / "ca.pem"), "--tlscert", str(certs / "client-cert.pem"),
           "--tlskey", str(certs / "client-key.pem"), "-H", f"tcp://127.0.0.1:{port}"]
    r = dockerd.docker(*tls, "run", "--rm", "busybox", "echo", "over tls")
    assert (r.returncode, r.stdout) == (0, "over tls\n"), r.stderr
    # stdin through and output back after the client's side ends (TLS half-close)
    r = dockerd.docker(*tls, "run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done", input="piped\n")
    assert (r.returncode, r.stdout) == (0, "piped\ndone\n"), r.stderr
    r = dockerd.docker(*tls, "exec", "-i", "nosuch", "true")
    assert r.returncode == 1 and "No such container" in r.stderr
    # the CA alone is not enough: no client certificate, no API
    r = dockerd.docker("--tlsverify", "--tlscacert", str(certs / "ca.pem"), "-H", f"tcp://127.0.0.1:{port}",
                       "version", "--format", "{{.Server.Version}}")
    assert r.returncode != 0 and r.stdout.strip() == ""
    # nor plain HTTP
    r = subprocess.run(["curl", "-s", "-m", "5", f"http://127.0.0.1:{port}/_ping"], capture_output=True)
    assert r.stdout != b"OK"
    # the unix socket still serves
    assert dockerd.docker("version", "--format", "{{.Server.Os}}").stdout.strip() == "linux"


def test_plain_tcp_is_refused_naming_the_flags(engine, tmp_path):
    r = subprocess.run(engine.argv("dockerd", "--bridge=none", "-H", f"tcp://127.0.0.1:{_free_port()}", "--data-root",
                                   str(tmp_path / "d"), "--pidfile", str(tmp_path / "p.pid")),
                       env=engine.env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "--tlsverify" in r.stderr and "--tlscert" in r.stderr
    assert not os.path.exists(tmp_path / "p.pid")
