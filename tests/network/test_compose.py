"""docker-compose 1.29 (a real client, on docker-py) drives our dockerd: a
project of three services on its own network, one publishing a port, one
reaching another by service name, one with a named volume; ps, logs,
exec, scale, restart, stop, down -v; nothing of it left after down."""
import json
import os
import shutil
import subprocess

import pytest

from tests.network.test_default_bridge import _free_port, _get

COMPOSE = """version: "3"
services:
  web:
    build: ./web
    image: bbt/web:dev
    ports: ["127.0.0.1:{port}:80"]
    dns: 127.0.0.1
  client:
    image: busybox
    command: sh -c "sleep 1000"
    depends_on: [web]
    dns: 127.0.0.1
  worker:
    image: busybox
    command: sh -c "echo worker up; sleep 1000"
    volumes: ["data:/data"]
    dns: 127.0.0.1
volumes:
  data: {{}}
"""

# the web service's image, built by compose (through `docker build`)
WEB_DOCKERFILE = """FROM busybox
RUN mkdir -p /www && echo built-by-compose > /www/index.html
EXPOSE 80
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
"""


def _our_docker_first(engine, tmp_path) -> str:
    """A PATH whose `docker` is ours (compose runs `docker build`)."""
    bindir = tmp_path / "ourbin"
    bindir.mkdir()
    script = bindir / "docker"
    script.write_text("#!/bin/sh\nexec " + " ".join(f"'{a}'" for a in engine.argv("docker")) + ' "$@"\n')
    script.chmod(0o755)
    return f"{bindir}:{os.environ.get('PATH', '')}"


def test_a_compose_project(bridged, tmp_path):
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is not installed: .ci/run installs it")
    d = bridged
    port = _free_port()
    (tmp_path / "proj" / "web").mkdir(parents=True)
    (tmp_path / "proj" / "docker-compose.yml").write_text(COMPOSE.format(port=port))
    (tmp_path / "proj" / "web" / "Dockerfile").write_text(WEB_DOCKERFILE)
    env = dict(d.engine.env or os.environ, DOCKER_HOST=d.host, COMPOSE_PROJECT_NAME="bbt",
               PATH=_our_docker_first(d.engine, tmp_path))

    def compose(*args, timeout=120):
        return subprocess.run(["docker-compose", *args], cwd=tmp_path / "proj", env=env, capture_output=True,
                              text=True, timeout=timeout)
    r = compose("up", "-d")
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        r = compose("ps")
        assert r.returncode == 0 and r.stdout.count(" Up ") == 3, r.stdout + r.stderr
        # the built image serves its own page on the published port
        assert _get(f"http://127.0.0.1:{port}/index.html") == "built-by-compose\n"
        assert compose("exec", "-T", "web", "sh", "-c", "echo hello-compose > /www/index.html").returncode == 0
        assert _get(f"http://127.0.0.1:{port}/index.html") == "hello-compose\n"
        # a service reaches another by its name on the project's network
        r = compose("exec", "-T", "client", "wget", "-q", "-O", "-", "http://web/index.html")
        assert r.stdout == "hello-compose\n", r.stdout + r.stderr
        # the named volume holds what a worker writes, across its restart
        assert compose("exec", "-T", "worker", "sh", "-c", "echo kept > /data/f").returncode == 0
        r = compose("logs", "worker")
        assert "worker up" in r.stdout, r.stdout + r.stderr
        r = compose("up", "-d", "--scale", "worker=2")
        assert r.returncode == 0, r.stderr
        assert len(compose("ps", "-q", "worker").stdout.split()) == 2
        assert compose("restart", "-t", "1", "client", "worker").returncode == 0
        r = compose("exec", "-T", "--index", "1", "worker", "cat", "/data/f")
        assert r.stdout == "kept\n", r.stdout + r.stderr
        assert compose("stop", "-t", "1").returncode == 0
        states = [json.loads(d.docker("inspect", c).stdout)[0]["State"]["Running"]
                  for c in compose("ps", "-q").stdout.split()]
        assert states and not any(states)
    finally:
        r = compose("down", "-v", "-t", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert d.docker("ps", "-aq").stdout == ""
    assert d.docker("volume", "ls", "-q").stdout == ""
    assert d.docker("network", "ls", "-q", "--filter", "type=custom").stdout == ""
    # the image it built stays (as Docker's does) until removed
    assert d.docker("rmi", "bbt/web:dev").returncode == 0
