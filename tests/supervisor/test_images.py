"""Images in our containerd: import a docker-archive, run it on an overlay
snapshot; digests checked; whiteouts; hostile layers contained."""
import json
import os
import subprocess

import pytest

from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument
from tests.fixtures.images import layer_tar, docker_archive, layered_archive, tar_layer
from tests.runtime.conftest import mounts_under


def ctr(containerd, *args, input=None):
    return subprocess.run(containerd.engine.argv("ctr", "-a", str(containerd.sock), *args),
                          env=containerd.engine.env, capture_output=True, text=True,
                          input=input, timeout=60)


def test_import_and_run_on_a_snapshot(containerd, rootfs_template, tmp_path):
    containerd.start()
    tar = docker_archive(rootfs_template, str(tmp_path / "busybox.tar"), tag="busybox:latest")
    r = ctr(containerd, "images", "import", tar)
    assert r.returncode == 0 and "docker.io/library/busybox:latest" in r.stdout, r.stderr
    assert "docker.io/library/busybox:latest" in ctr(containerd, "images", "ls", "-q").stdout
    r = ctr(containerd, "run", "--rm", "busybox:latest", "t1", "sh", "-c", "echo hi > /made; cat /made; exit 3")
    assert (r.returncode, r.stdout) == (3, "hi\n"), r.stderr
    # the write went to the container's upper layer, gone with it
    r = ctr(containerd, "run", "--rm", "busybox", "t2", "ls", "/made")
    assert r.returncode != 0
    assert [m for m in mounts_under(str(tmp_path)) if "rootfs" in m] == []
    assert ctr(containerd, "images", "rm", "busybox:latest").returncode == 0
    assert ctr(containerd, "images", "ls", "-q").stdout == ""


def test_whiteouts_and_opaque_directories(containerd, rootfs_template, tmp_path):
    c = containerd.start()
    base = layer_tar(rootfs_template)
    l1 = tar_layer([("data", "dir", None), ("data/a", "file", b"a"), ("data/b", "file", b"b"),
                    ("opq", "dir", None), ("opq/old", "file", b"old")])
    l2 = tar_layer([("data/.wh.a", "file", b""), ("opq/.wh..wh..opq", "file", b""),
                    ("opq/new", "file", b"new")])
    tar = layered_archive(str(tmp_path / "l.tar"), [base, l1, l2])
    assert c.call("images.import", path=tar) == ["docker.io/library/layered:test"]
    r = ctr(containerd, "run", "--rm", "layered:test", "t1", "sh", "-c", "ls /data; ls /opq")
    assert r.stdout.split() == ["b", "new"], r.stderr


def test_layer_that_does_not_match_its_digest(containerd, rootfs_template, tmp_path):
    c = containerd.start()
    layer = tar_layer([("x", "file", b"x")])
    tar = layered_archive(str(tmp_path / "bad.tar"), [layer], diff_ids=["sha256:" + "0" * 64])
    with pytest.raises(FailedPrecondition, match="does not match diff_id"):
        c.call("images.import", path=tar)
    assert c.call("images.list") == []
    content = tmp_path / "root" / "content"
    assert os.listdir(content / "ingest") == [] and os.listdir(content / "blobs" / "sha256") == []


HOSTILE = [
    ([("../escape", "file", b"x")], "'..' is not allowed"),
    ([("a/../../escape", "file", b"x")], "'..' is not allowed"),
    ([("evil", "symlink", "HOSTDIR"), ("evil/planted", "file", b"x")], "symlink to nowhere"),
    ([("d", "dir", None), ("evil", "symlink", "/d"), ("evil/inside", "file", b"x")], None),
    ([("link", "hardlink", "../../../../etc/passwd")], "'..' is not allowed"),
    ([("/abs/file", "file", b"x")], None),
    ([("dev/null2", "chardev", None)], None),
]


def hostile_entries(entries: list, tmp_path) -> tuple:
    """(host directory the layer aims at, HOSTILE entries aimed at it)."""
    host = tmp_path / "hostdir"
    host.mkdir()
    return host, [(n, k, str(host) if p == "HOSTDIR" else p) for n, k, p in entries]


@pytest.mark.parametrize("entries,expect", HOSTILE)
def test_hostile_layers_are_refused_or_contained(containerd, rootfs_template, tmp_path, entries, expect):
    c = containerd.start()
    host, entries = hostile_entries(entries, tmp_path)
    tar = layered_archive(str(tmp_path / "evil.tar"), [tar_layer(entries)], tag="evil:test")
    if expect:
        with pytest.raises(InvalidArgument, match=expect):
            c.call("images.import", path=tar)
    else:
        c.call("images.import", path=tar)
    # nothing outside the snapshot directories
    assert os.listdir(host) == []
    assert not os.path.exists(tmp_path / "escape") and not os.path.exists("/abs/file")
    snaps = tmp_path / "root" / "snapshots" / "overlayfs" / "committed"
    for d in snaps.iterdir() if snaps.exists() else []:
        assert not os.path.exists(d / "fs" / "dev" / "null2")  # device nodes not created
    assert os.listdir(tmp_path / "root" / "snapshots" / "overlayfs" / "tmp") == []


def test_broken_archives(containerd, tmp_path):
    c = containerd.start()
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all")
    with pytest.raises(InvalidArgument, match="not a tar archive"):
        c.call("images.import", path=str(junk))
    with pytest.raises(InvalidArgument):
        c.call("images.import", path="relative.tar")


@pytest.mark.skipif(__import__("shutil").which("skopeo") is None, reason="skopeo not installed")
def test_import_an_oci_archive_made_by_skopeo(containerd, rootfs_template, tmp_path):
    c = containerd.start()
    src = docker_archive(rootfs_template, str(tmp_path / "busybox.tar"), tag="busybox:latest")
    oci = tmp_path / "oci.tar"
    subprocess.run(["skopeo", "copy", f"docker-archive:{src}", f"oci-archive:{oci}:docker.io/library/busybox:oci"],
                   check=True, capture_output=True)
    assert c.call("images.import", path=str(oci)) == ["docker.io/library/busybox:oci"]
    r = ctr(containerd, "run", "--rm", "busybox:oci", "t1", "echo", "from oci")
    assert r.stdout == "from oci\n", r.stderr


def test_kill_9_in_the_middle_of_an_import(containerd, rootfs_template, tmp_path):
    import signal
    import threading
    import time
    c = containerd.start()
    big = tar_layer([("big", "file", os.urandom(64 << 20))])
    tar = layered_archive(str(tmp_path / "big.tar"), [layer_tar(rootfs_template), big], tag="big:test")
    errors = []

    def importer():
        try:
            c.call("images.import", path=tar)
        except Exception as e:  # noqa: BLE001 - the daemon dies under it
            errors.append(e)
    t = threading.Thread(target=importer)
    t.start()
    content = tmp_path / "root" / "content"
    # wait until the big blob is being written, then kill
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ingest = list((content / "ingest").iterdir()) if (content / "ingest").exists() else []
        if any(p.stat().st_size > (4 << 20) for p in ingest):
            break
        time.sleep(0.005)
    containerd.stop(signal.SIGKILL)
    t.join(30)
    assert errors, "the import finished before the kill: make the layer bigger"
    c = containerd.start()
    assert os.listdir(content / "ingest") == []  # nothing half-committed is kept
    assert c.call("images.list") == []
    assert c.call("images.import", path=tar) == ["docker.io/library/big:test"]
    r = ctr(containerd, "run", "--rm", "big:test", "t1", "sh", "-c", "wc -c < /big")
    assert r.stdout.strip() == str(64 << 20), r.stderr


def test_an_image_with_many_layers(containerd, rootfs_template, tmp_path):
    """120 layers: more than one page of overlay options with long names."""
    c = containerd.start()
    layers = [layer_tar(rootfs_template)] + [tar_layer([(f"l{i}", "file", f"{i}\n".encode())])
                                               for i in range(119)]
    tar = layered_archive(str(tmp_path / "deep.tar"), layers, tag="deep:test")
    c.call("images.import", path=tar)
    r = ctr(containerd, "run", "--rm", "deep:test", "t1", "sh", "-c", "cat /l0 /l118; ls / | grep -c '^l'")
    assert r.stdout.split() == ["0", "118", "119"], r.stderr


def test_garbage_collection(containerd, rootfs_template, tmp_path):
    c = containerd.start()
    tar = docker_archive(rootfs_template, str(tmp_path / "busybox.tar"), tag="busybox:latest")
    c.call("images.import", path=tar)
    c.call("images.tag", source="busybox:latest", target="other:tag")
    root = tmp_path / "root"
    blobs = root / "content" / "blobs" / "sha256"
    snaps = root / "snapshots" / "overlayfs" / "committed"
    n_blobs = len(os.listdir(blobs))
    assert n_blobs == 3 and len(os.listdir(snaps)) == 1
    c.call("images.delete", name="busybox:latest")
    assert len(os.listdir(blobs)) == n_blobs  # still tagged other:tag
    # a container on the image keeps its snapshots after the image goes
    from tests.supervisor.test_containerd import spec_for
    c.call("containers.create", id="c1", spec=spec_for(["true"]), image="other:tag")
    c.call("images.delete", name="other:tag")
    assert os.listdir(blobs) == [] and len(os.listdir(snaps)) == 1
    c.call("containers.delete", id="c1")
    assert os.listdir(snaps) == []
    assert c.call("gc.run") == {"blobs": 0, "snapshots": 0}


def test_export_and_import_round_trip(containerd, rootfs_template, tmp_path):
    c = containerd.start()
    src = docker_archive(rootfs_template, str(tmp_path / "busybox.tar"), tag="busybox:latest")
    c.call("images.import", path=src)
    out = tmp_path / "exported.tar"
    r = ctr(containerd, "images", "export", str(out), "busybox:latest")
    assert r.returncode == 0, r.stderr
    import json
    import tarfile
    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == ["busybox:latest"] and len(manifest[0]["Layers"]) == 1
    c.call("images.delete", name="busybox:latest")
    assert c.call("images.import", path=str(out)) == ["docker.io/library/busybox:latest"]
    r = ctr(containerd, "run", "--rm", "busybox:latest", "t1", "echo", "round trip")
    assert r.stdout == "round trip\n", r.stderr


def test_content_and_snapshots_services(containerd, rootfs_template, tmp_path):
    c = containerd.start()
    c.call("images.import", path=docker_archive(rootfs_template, str(tmp_path / "b.tar"), tag="busybox:latest"))
    blobs = c.call("content.list")
    assert len(blobs) == 3 and all(b["digest"].startswith("sha256:") and b["size"] > 0 for b in blobs)
    manifest = c.call("images.get", name="busybox:latest")["target"]["digest"]
    assert c.call("content.info", digest=manifest)["digest"] == manifest
    from busybox_engine.rpc.errors import NotFound
    from tests.supervisor.test_containerd import spec_for
    with pytest.raises(FailedPrecondition):  # an image needs it
        c.call("content.delete", digest=manifest)
    with pytest.raises(NotFound):
        c.call("content.info", digest="sha256:" + "0" * 64)
    with pytest.raises(InvalidArgument):
        c.call("content.info", digest="sha256:../../etc")
    ls = ctr(containerd, "content", "ls").stdout.splitlines()
    assert ls[0].split() == ["DIGEST", "SIZE"] and len(ls) == 4
    snaps = ctr(containerd, "snapshots", "ls").stdout.splitlines()
    assert snaps[0].split() == ["KEY", "PARENT", "KIND"] and snaps[1].split()[-1] == "Committed"
    c.call("containers.create", id="c1", spec=spec_for(["true"]), image="busybox:latest")
    kinds = sorted(s["kind"] for s in c.call("snapshots.list"))
    assert kinds == ["active", "committed"]
    c.call("containers.delete", id="c1")
    c.call("images.delete", name="busybox:latest")
    assert c.call("content.list") == [] and c.call("snapshots.list") == []


def test_real_docker_loads_our_save_and_we_load_its_save(containerd, real_dockerd, rootfs_template, tmp_path):
    docker = real_dockerd
    c = containerd.start()
    src = docker_archive(rootfs_template, str(tmp_path / "b.tar"), tag="ours:1", cmd=("echo", "ours"))
    c.call("images.import", path=src)
    ours = tmp_path / "ours-saved.tar"
    assert ctr(containerd, "images", "export", str(ours), "ours:1").returncode == 0
    import tarfile
    with tarfile.open(ours) as t:  # a docker-archive that is an OCI layout too
        assert {"manifest.json", "repositories", "index.json", "oci-layout"} <= set(t.getnames())
    r = docker("load", "-i", str(ours))
    assert r.returncode == 0 and "Loaded image: ours:1" in r.stdout, r.stderr
    inspect = json.loads(docker("image", "inspect", "ours:1").stdout)[0]
    assert inspect["Config"]["Cmd"] == ["echo", "ours"] and len(inspect["RootFS"]["Layers"]) == 1
    # and the other way: what docker save writes, we load and run
    assert docker("tag", "ours:1", "theirs:2").returncode == 0
    theirs = tmp_path / "theirs.tar"
    assert docker("save", "-o", str(theirs), "theirs:2").returncode == 0
    assert c.call("images.import", path=str(theirs)) == ["docker.io/library/theirs:2"]
    r = ctr(containerd, "run", "--rm", "theirs:2", "t1")
    assert (r.returncode, r.stdout) == (0, "ours\n"), r.stderr


def test_a_full_disk_is_one_line_and_nothing_half_written(containerd, rootfs_template, tmp_path):
    """containerd's root on a 4 MB filesystem, an image of 8 MB: import
    and pull fail with one line, the daemon logs no traceback, nothing
    half-written stays, and it carries on."""
    from tests.fixtures.registry import RegistryServer
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(root)], check=True)
    reg = None
    try:
        c = containerd.start()
        big = layered_archive(str(tmp_path / "big.tar"), [tar_layer([("big", "file", os.urandom(8 << 20))])],
                              tag="big:1")
        r = ctr(containerd, "images", "import", big)
        assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr
        assert "No space left on device" in r.stderr
        reg = RegistryServer(tmp_path / "registry").start()
        reg.push_archive(big, "big:1")
        r = ctr(containerd, "images", "pull", "--plain-http", f"{reg.address}/big:1")
        assert r.returncode == 1 and "No space left on device" in r.stderr.splitlines()[-1], r.stderr
        content = root / "content"
        assert os.listdir(content / "ingest") == []
        import hashlib
        for name in os.listdir(content / "blobs" / "sha256"):  # whole ones only (the pull's config)
            assert hashlib.sha256((content / "blobs" / "sha256" / name).read_bytes()).hexdigest() == name
        c.call("gc.run")
        assert os.listdir(content / "blobs" / "sha256") == []
        assert os.listdir(root / "snapshots" / "overlayfs" / "tmp") == []
        assert c.call("images.list") == []
        assert "Traceback" not in (tmp_path / "containerd.log").read_text()
        assert c.call("version")["name"] == "busybox-engine containerd"
    finally:
        if reg is not None:
            reg.stop()
        containerd.stop()
        subprocess.run(["umount", "-l", str(root)], check=False)
