"""The Engine API requests our client makes from a command line, beside
those the real 20.10 client makes from the same line: a small server on a
unix socket answers like a daemon and records what each client asked."""
import json
import os
import socketserver
import subprocess
import threading
from http.server import BaseHTTPRequestHandler

import pytest

REAL = "/usr/bin/docker"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status: int, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Api-Version", "1.41")
        self.send_header("Ostype", "linux")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self._reply(200)

    def do_GET(self):
        self._reply(200, {} if "/_ping" not in self.path else None)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        # the version prefix is negotiated: both clients see 1.41
        path = path.split("/", 2)[2] if path.startswith("/v1.") else path.lstrip("/")
        self.server.log.append((path, query, json.loads(raw) if raw else None))
        if path == "containers/create":
            self._reply(201, {"Id": "c0ffee" * 10 + "abcd", "Warnings": []})
        elif path == "networks/create":
            self._reply(201, {"Id": "n" * 64, "Warning": ""})
        elif path == "volumes/create":
            body = json.loads(raw)
            self._reply(201, {"Name": body.get("Name") or "v" * 64, "Driver": "local"})
        elif path.endswith("/update"):
            self._reply(200, {"Warnings": None})
        else:
            self._reply(200)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass   # a client that hangs up on its abandoned wait


@pytest.fixture
def recorder(tmp_path):
    sock = str(tmp_path / "rec.sock")
    srv = _Server(sock, _Handler)
    srv.log = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv, sock
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


def _requests(engine, recorder, tmp_path, real: bool, args: list):
    srv, sock = recorder
    srv.log.clear()
    env = dict(engine.env or os.environ, DOCKER_HOST=f"unix://{sock}", DOCKER_CONFIG=str(tmp_path / "cfg"),
               FROM_ENV="from-env")
    argv = [REAL, *args] if real else engine.argv("docker", *args)
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)
    # `run -d` of the Go client also asks to wait, then drops it when the
    # start returns (and logs that the wait ended): not what is compared here
    err = "".join(line for line in r.stderr.splitlines(True) if not line.startswith('time="'))
    return r.returncode, r.stdout, err, [_env_sorted(x) for x in srv.log if not x[0].endswith("/wait")]


def _env_sorted(request: tuple) -> tuple:
    """The Go client orders -e values with the environment's ones as its map
    iteration falls (FROM_ENV before or after A=1): Env compared as a set."""
    body = request[2] if len(request) > 2 else None
    if isinstance(body, dict) and isinstance(body.get("Env"), list):
        body = dict(body, Env=sorted(body["Env"]))
        return (*request[:2], body, *request[3:])
    return request


CREATE_LINES = [
    ["create", "busybox"],
    ["create", "--name", "x1", "-it", "-e", "A=1", "-e", "FROM_ENV", "-l", "k=v", "-w", "/tmp", "-u", "1:2",
     "busybox", "sh", "-c", "echo hi"],
    ["create", "-p", "8080:80", "-p", "127.0.0.1::53/udp", "-p", "9000-9001:7000-7001", "--expose", "3000-3001",
     "-P", "busybox"],
    ["create", "-v", "/data", "-v", "/tmp:/mnt:ro", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m",
     "--mount", "type=volume,source=vol,target=/v,volume-label=a=b", "--tmpfs", "/run:rw,size=1m",
     "--volumes-from", "other:ro", "busybox"],
    ["create", "-m", "64m", "--memory-swap", "-1", "--memory-reservation", "32m", "--kernel-memory", "8m",
     "--cpus", "1.5", "--cpu-shares", "512", "--cpuset-cpus", "0", "--pids-limit", "50",
     "--blkio-weight", "300", "--blkio-weight-device", "/dev/sda:200", "--device-read-bps", "/dev/sda:1mb",
     "--device-write-iops", "/dev/sda:100", "--cpu-rt-period", "1000", "--cpu-rt-runtime", "500",
     "--oom-score-adj", "100", "--oom-kill-disable", "--memory-swappiness", "10", "busybox"],
    ["create", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--privileged", "--read-only",
     "--security-opt", "no-new-privileges", "--device", "/dev/null:/dev/n:r", "--device-cgroup-rule",
     "c 1:3 rwm", "--ulimit", "nofile=100:200", "--sysctl", "net.ipv4.ip_forward=1", "--group-add", "10",
     "--gpus", "all", "busybox"],
    ["create", "--restart", "on-failure:3", "--init", "--stop-signal", "SIGUSR1", "--stop-timeout", "5",
     "--health-cmd", "true", "--health-interval", "2s", "--health-retries", "3", "--log-driver", "json-file",
     "--log-opt", "max-size=1m", "--hostname", "h", "--domainname", "d", "--dns", "1.1.1.1",
     "--dns-search", "ex.com", "--dns-option", "ndots:2", "--add-host", "a:10.0.0.1", "--entrypoint", "/bin/sh",
     "--isolation", "default", "--cgroupns", "private", "--ipc", "private", "--pid", "host",
     "--uts", "host", "--shm-size", "128m", "--runtime", "runc", "busybox"],
    ["create", "--network", "mynet", "--network-alias", "web", "--ip", "10.1.0.5", "--ip6", "fd00::5",
     "--link", "db:database", "--link-local-ip", "169.254.0.5", "--mac-address", "02:42:ac:11:00:02", "busybox"],
    ["create", "--network", "name=mynet,alias=a1,driver-opt=x=y", "busybox"],
    ["create", "--network", "none", "busybox"],
    ["create", "--network-alias", "lost", "busybox"],
    ["create", "--rm", "--health-timeout", "3s", "--mount", "type=bind,src=/tmp,dst=/b,bind-propagation=rslave,ro",
     "--mount", "type=volume,dst=/n,volume-nocopy,volume-driver=local,volume-opt=o=1",
     "--mount", "type=tmpfs,dst=/tm,tmpfs-mode=1777", "-i", "-a", "stdout", "busybox"],
    ["create", "--no-healthcheck", "-a", "stdout", "--cidfile", "", "--platform", "linux/amd64", "busybox"],
]


OTHER_LINES = [
    ["run", "-d", "--name", "r1", "busybox", "sleep", "1"],
    ["update", "--memory", "64m", "--memory-swap", "128m", "--cpus", "0.5", "--restart", "always",
     "--cpu-rt-runtime", "100", "--blkio-weight", "500", "c1", "c2"],
    ["network", "create", "--subnet", "10.9.0.0/16", "--gateway", "10.9.0.1", "--ip-range", "10.9.1.0/24",
     "--aux-address", "r=10.9.0.3", "-o", "com.docker.network.bridge.name=br9", "--label", "a=b",
     "--internal", "--attachable", "n9"],
    ["network", "create", "plain"],
    ["network", "connect", "--alias", "a,b", "--ip", "10.9.0.7", "--link", "x:y", "--driver-opt", "k=v",
     "n9", "c1"],
    ["network", "connect", "n9", "c1"],
    ["network", "create", "--config-from", "base", "--config-only", "--scope", "local", "--ipv6", "n8"],
    ["network", "disconnect", "-f", "n9", "c1"],
    ["volume", "create", "--label", "a=b", "-o", "type=tmpfs", "-o", "device=tmpfs", "v1"],
    ["volume", "create"],
]


BAD_LINES = [
    ["create", "--blkio-weight", "70000", "busybox"],
    ["create", "--blkio-weight-device", "/dev/sda:5", "busybox"],
    ["create", "--device-read-bps", "sda:1", "busybox"],
    ["create", "--device-read-iops", "/dev/sda:1k", "busybox"],
    ["create", "--device-cgroup-rule", "a", "busybox"],
    ["create", "--gpus", "count=x", "busybox"],
    ["create", "--gpus", "bogus=1", "busybox"],
    ["create", "--sysctl", "kernel.hostname=x", "busybox"],
    ["create", "--ulimit", "bogus=1", "busybox"],
    ["create", "--ulimit", "nofile=1:2:3", "busybox"],
    ["create", "--link", "a:b:c", "busybox"],
    ["create", "--memory-swap", "-2", "busybox"],
    ["create", "--network", "bridge", "--network-alias", "x", "busybox"],
    ["create", "--network", "bridge", "--network", "mynet", "busybox"],
    ["create", "--network", "name=x,bogus=y", "busybox"],
    ["create", "--ulimit", "bogus=1"],
    ["create", "--rm", "--restart", "always", "busybox"],
    ["create", "--mount", "type=bind,dst=/x,volume-nocopy", "busybox"],
    ["create", "--mount", "type=tmpfs,dst=/x,tmpfs-mode=9", "busybox"],
    ["create", "--mount", "type=volume,dst=/x,ro=maybe", "busybox"],
    ["create", "--mac-address", "zz", "busybox"],
    ["create", "--add-host", "nohost", "busybox"],
    ["create", "--add-host", "x:notanip", "busybox"],
    ["create", "-a", "stdfoo", "busybox"],
    ["network", "create", "--subnet", "10.1.0.0/16", "--subnet", "10.1.1.0/24", "n"],
    ["network", "create", "--subnet", "10.1.0.0/16", "--gateway", "10.2.0.1", "n"],
    ["network", "connect", "--driver-opt", "novalue", "n", "c"],
]


@pytest.mark.parametrize("args, good", [(a, True) for a in CREATE_LINES + OTHER_LINES] +
                         [(a, False) for a in BAD_LINES], ids=lambda a: " ".join(a[:4]) if isinstance(a, list) else "")
def test_commands_send_and_fail_as_the_real_client(engine, recorder, tmp_path, args, good):
    """Good lines: the same requests, bodies and output; bad ones: the same
    error, status and no request."""
    mine = _requests(engine, recorder, tmp_path, False, args)
    real = _requests(engine, recorder, tmp_path, True, args)
    assert (real[0] == 0) == good, real
    assert mine == real
