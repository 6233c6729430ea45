"""Tenants that must not meet: names built from a namespace and an id
never collide (snapshots, task directories, shim sockets, cgroups)."""
import os

import pytest

from busybox_engine.rpc.errors import AlreadyExists
from tests.fixtures.images import docker_archive
from tests.supervisor.test_containerd import spec_for
from tests.helpers import wait_for


def image_spec(ns: str, cid: str, args: list) -> dict:
    spec = spec_for(args, cid, ns)
    spec["root"] = {"path": "rootfs", "readonly": False}
    return spec


def run_on_image(c, ns: str, cid: str, args: list, tmp_path) -> str:
    c.call("containers.create", id=cid, spec=image_spec(ns, cid, args), image="busybox:latest", namespace=ns)
    log = str(tmp_path / f"{ns}.{cid}.log")
    c.call("tasks.create", container_id=cid, namespace=ns, log_path=log)
    c.call("tasks.start", container_id=cid, namespace=ns)
    return log


def lines(log: str) -> list:
    import json
    with open(log) as f:
        return [json.loads(line)["log"].rstrip("\n") for line in f]


def test_container_c_in_a_b_and_b_c_in_a_have_their_own_snapshots(containerd, rootfs_template, tmp_path):
    c = containerd.start()
    tar = docker_archive(rootfs_template, str(tmp_path / "busybox.tar"), tag="busybox:latest")
    for ns in ("a-b", "a"):
        c.call("images.import", path=tar, namespace=ns)
    # each tenant writes its own file, waits, then lists what it sees
    script = "echo {me} > /mine-{me}; sleep 1; ls / | grep mine-; sleep 100"
    logs = {}
    for ns, cid in (("a-b", "c"), ("a", "b-c")):
        logs[(ns, cid)] = run_on_image(c, ns, cid, ["sh", "-c", script.format(me=f"{ns}.{cid}")], tmp_path)
    for (ns, cid), log in logs.items():
        wait_for(lambda: os.path.exists(log) and lines(log), what=f"{ns}/{cid} output")
        assert lines(log) == [f"mine-{ns}.{cid}"]
    # removing one leaves the other running on its files
    c.call("tasks.delete", container_id="c", namespace="a-b", force=True)
    c.call("containers.delete", id="c", namespace="a-b")
    assert c.call("tasks.state", container_id="b-c", namespace="a")["status"] == "running"
    r = c.call("tasks.exec", container_id="b-c", namespace="a", exec_id="look",
               process={"args": ["cat", "/mine-a.b-c"], "cwd": "/", "env": ["PATH=/bin"]})
    assert r["status"] == "created"
    c.call("tasks.start", container_id="b-c", namespace="a", exec_id="look")
    assert c.call("tasks.wait", container_id="b-c", namespace="a", exec_id="look")["exit_status"] == 0
    c.call("tasks.delete", container_id="b-c", namespace="a", force=True)
    c.call("containers.delete", id="b-c", namespace="a")
    snaps = [s for s in c.call("snapshots.list") if s["kind"] == "active"]
    assert snaps == []


def test_a_snapshot_key_is_never_shared(containerd, rootfs_template, tmp_path):
    c = containerd.start()
    tar = docker_archive(rootfs_template, str(tmp_path / "busybox.tar"), tag="busybox:latest")
    c.call("images.import", path=tar)
    c.call("containers.create", id="x", spec=image_spec("default", "x", ["true"]), image="busybox:latest")
    with pytest.raises(AlreadyExists):
        c.call("containers.create", id="x", spec=image_spec("default", "x", ["true"]), image="busybox:latest")
    keys = [s["key"] for s in c.call("snapshots.list") if s["kind"] == "active"]
    assert keys == ["default/x"]
    c.call("containers.delete", id="x")


def test_a_namespace_named_like_a_state_directory(containerd, rootfs_template, tmp_path):
    """Namespace `shims` with container `default` once had the task
    directory that held every socket of namespace `default`."""
    c = containerd.start()
    c.call("containers.create", id="t1", spec=spec_for(["sleep", "100"], "t1"), rootfs=rootfs_template)
    c.call("tasks.create", container_id="t1")
    c.call("tasks.start", container_id="t1")
    for ns in ("shims", "s"):
        c.call("containers.create", id="default", spec=spec_for(["true"], "default", ns), rootfs=rootfs_template,
               namespace=ns)
        c.call("tasks.create", container_id="default", namespace=ns)
        c.call("tasks.start", container_id="default", namespace=ns)
        assert c.call("tasks.wait", container_id="default", namespace=ns)["exit_status"] == 0
        c.call("tasks.delete", container_id="default", namespace=ns)
        c.call("containers.delete", id="default", namespace=ns)
    # t1's shim is still reachable, by this containerd and by the next
    assert c.call("tasks.state", container_id="t1")["status"] == "running"
    c.close()
    import signal
    containerd.stop(signal.SIGKILL)
    c = containerd.start()
    assert [t["id"] for t in c.call("tasks.list")] == ["t1"]
    c.call("tasks.delete", container_id="t1", force=True)
    c.call("containers.delete", id="t1")
