"""docker-py (7.x) against our dockerd: the calls scripts make."""
import threading

import docker
import pytest


@pytest.fixture
def client(dockerd):
    c = docker.DockerClient(base_url=dockerd.host, timeout=60)
    yield c
    c.close()


def test_containers_run_logs_exec_stop_remove(client):
    assert client.containers.run("busybox", ["sh", "-c", "echo hi; echo err >&2"], remove=True) == b"hi\n"
    with pytest.raises(docker.errors.ContainerError) as e:
        client.containers.run("busybox", ["sh", "-c", "exit 2"], remove=True)
    assert e.value.exit_status == 2
    c = client.containers.run("busybox", ["sh", "-c", "echo up; exec sleep 100"], detach=True, name="pyc",
                              labels={"app": "x"})
    assert client.containers.get("pyc").id == c.id
    assert [x.name for x in client.containers.list(filters={"label": "app=x"})] == ["pyc"]
    c.reload()
    assert c.status == "running" and c.attrs["Config"]["Labels"] == {"app": "x"}
    r = c.exec_run(["sh", "-c", "echo $((2+3)); exit 1"])
    assert (r.exit_code, r.output) == (1, b"5\n")
    stream = c.logs(stream=True, follow=True)
    assert next(stream) == b"up\n"
    s = c.stats(stream=False)
    assert s["id"] == c.id and s["memory_stats"]["usage"] > 0
    c.stop(timeout=1)
    assert c.wait()["StatusCode"] == 137
    c.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("pyc")


def test_attach_socket_and_events(client):
    events = client.api.events(decode=True, filters={"type": "container", "event": ["start", "die"]})
    seen = []
    t = threading.Thread(target=lambda: [seen.append(e) for e, _ in zip(events, range(2))])
    t.start()
    c = client.containers.create("busybox", ["cat"], stdin_open=True, name="cat")
    sock = client.api.attach_socket(c.id, params={"stdin": 1, "stdout": 1, "stream": 1})
    c.start()
    sock._sock.sendall(b"ping\n")
    got = b""
    while b"ping" not in got:
        got += sock._sock.recv(4096)
    assert got[:8] == b"\x01\x00\x00\x00\x00\x00\x00\x05"   # one stdout frame, 5 bytes
    sock._sock.shutdown(1)   # our stdin ends: cat ends
    assert c.wait(timeout=20)["StatusCode"] == 0
    t.join(10)
    events.close()
    assert [(e["Action"], e["Actor"]["Attributes"]["name"]) for e in seen] == [("start", "cat"), ("die", "cat")]
    c.remove()


def test_images_volumes_info_df(client):
    img = client.images.get("busybox")
    assert img.tags == ["busybox:latest"] and img.id.startswith("sha256:")
    assert [i.id for i in client.images.list()] == [img.id]
    v = client.volumes.create("pyvol", labels={"a": "b"})
    assert client.volumes.get("pyvol").attrs["Labels"] == {"a": "b"}
    assert [x.name for x in client.volumes.list()] == ["pyvol"]
    v.remove()
    info = client.info()
    assert info["Driver"] == "overlay2" and info["Images"] == 1 and info["NCPU"] >= 1
    assert client.version()["ApiVersion"] == "1.41"
    assert client.ping() is True


def test_diff_and_commit(client):
    c = client.containers.run("busybox", ["sh", "-c", "echo v > /v"], detach=True)
    assert c.wait()["StatusCode"] == 0
    assert c.diff() == [{"Path": "/v", "Kind": 1}]
    image = c.commit(repository="py/commit", tag="t1", message="m", author="a",
                     conf={"Cmd": ["cat", "/v"], "Labels": {"k": "v"}})
    assert image.tags == ["py/commit:t1"]
    assert image.labels == {"k": "v"}
    assert client.containers.run(image, remove=True) == b"v\n"
    c.remove()
    client.images.remove("py/commit:t1")
