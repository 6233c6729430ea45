"""Pull from a real registry (Debian's docker-registry on 127.0.0.1):
ctr images pull, run what was pulled, and registries that lie."""
import json
import os
import subprocess

import pytest

from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from tests.fixtures.images import docker_archive, layered_archive, tar_layer
from tests.fixtures.registry import RegistryServer


@pytest.fixture
def registry(tmp_path):
    r = RegistryServer(tmp_path / "registry").start()
    yield r
    r.stop()


def ctr(containerd, *args, timeout=120, env=None):
    return subprocess.run(containerd.engine.argv("ctr", "-a", str(containerd.sock), *args),
                          env=dict(containerd.engine.env or os.environ, **(env or {})),
                          capture_output=True, text=True, timeout=timeout)


def test_pull_and_run(containerd, registry, rootfs_template, tmp_path):
    registry.push_archive(docker_archive(rootfs_template, str(tmp_path / "b.tar"), cmd=("echo", "from cmd")),
                          "team/busybox:1.0")
    containerd.start()
    ref = f"{registry.address}/team/busybox:1.0"
    r = ctr(containerd, "images", "pull", "--plain-http", ref)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and lines[-1].startswith(f"unpacking {ref} (sha256:")  # config, layer, done
    assert ref in ctr(containerd, "images", "ls", "-q").stdout.split()
    r = ctr(containerd, "run", "--rm", ref, "t1")
    assert (r.returncode, r.stdout) == (0, "from cmd\n"), r.stderr
    # again: everything is there already, nothing is fetched twice
    blobs = os.listdir(tmp_path / "root" / "content" / "blobs" / "sha256")
    assert ctr(containerd, "images", "pull", "--plain-http", ref).returncode == 0
    assert os.listdir(tmp_path / "root" / "content" / "blobs" / "sha256") == blobs


def test_pull_errors(containerd, registry, rootfs_template, tmp_path):
    c = containerd.start()
    with pytest.raises(NotFound):
        c.call("images.pull", name=f"{registry.address}/no/such:thing", plain_http=True)
    with pytest.raises(InvalidArgument) as e:
        c.call("images.pull", name="Busybox", plain_http=True)
    assert "repository name must be lowercase" in str(e.value)
    with pytest.raises(InvalidArgument):
        c.call("images.pull", name=f"{registry.address}/a:b", plain_http=True, platform="linux")
    with pytest.raises(Unavailable):  # nothing listens there
        c.call("images.pull", name="127.0.0.1:1/a:b", plain_http=True)
    registry.push_archive(docker_archive(rootfs_template, str(tmp_path / "b.tar")), "busybox:latest")
    with pytest.raises(NotFound) as e:
        c.call("images.pull", name=f"{registry.address}/busybox", plain_http=True, platform="linux/arm64")
    assert "does not match the specified platform: wanted linux/arm64, actual: linux/amd64" in str(e.value)
    assert c.call("images.list") == []


def test_a_registry_that_lies_about_a_layer(containerd, registry, tmp_path):
    layer = tar_layer([("hello", "file", b"hello\n")])
    registry.push_archive(layered_archive(str(tmp_path / "l.tar"), [layer], tag="x:1"), "liar:1")
    c = containerd.start()
    # the registry's copy of the layer changes under its digest
    from hashlib import sha256
    path = registry.blob_path("sha256:" + sha256(layer).hexdigest())
    if not os.path.exists(path):  # skopeo may have compressed it: find the one layer blob by size
        manifest = _manifest(registry, "liar", "1")
        path = registry.blob_path(manifest["layers"][0]["digest"])
    data = bytearray(open(path, "rb").read())
    data[-1] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(FailedPrecondition) as e:
        c.call("images.pull", name=f"{registry.address}/liar:1", plain_http=True)
    assert "digest mismatch" in str(e.value)
    assert c.call("images.list") == []
    # nothing half-committed: the config may be in, the bad layer is not
    digests = [b["digest"] for b in c.call("content.list")]
    assert _manifest(registry, "liar", "1")["layers"][0]["digest"] not in digests
    assert os.listdir(tmp_path / "root" / "content" / "ingest") == []
    # a longer blob than declared is cut off, not stored
    open(path, "wb").write(bytes(data) + b"x" * 4096)
    with pytest.raises(FailedPrecondition) as e:
        c.call("images.pull", name=f"{registry.address}/liar:1", plain_http=True)
    assert c.call("images.list") == []


def assert_nothing_unpacked(c, tmp_path) -> None:
    """No image, no snapshot, and no half-made one left behind."""
    assert c.call("images.list") == [] and c.call("snapshots.list") == []
    assert os.listdir(tmp_path / "root" / "snapshots" / "overlayfs" / "tmp") == []


def _manifest(registry, repo, tag, oci=False):
    import urllib.request
    accept = ("application/vnd.oci.image.manifest.v1+json" if oci
              else "application/vnd.docker.distribution.manifest.v2+json")
    req = urllib.request.Request(f"http://{registry.address}/v2/{repo}/manifests/{tag}", headers={"Accept": accept})
    return json.load(urllib.request.urlopen(req, timeout=10))


def test_basic_auth_with_flags_config_json_and_a_credential_helper(containerd, private_registry, rootfs_template,
                                                                   tmp_path):
    reg = private_registry
    reg.push_archive(docker_archive(rootfs_template, str(tmp_path / "b.tar")), "secret/app:1", creds="alice:s3cret")
    ref = f"{reg.address}/secret/app:1"
    c = containerd.start()
    from busybox_engine.rpc.errors import Unauthenticated
    with pytest.raises(Unauthenticated) as e:
        c.call("images.pull", name=ref, plain_http=True)
    assert "no credentials given" in str(e.value)
    with pytest.raises(Unauthenticated):
        c.call("images.pull", name=ref, plain_http=True, user="alice", password="wrong")
    nowhere = {"DOCKER_CONFIG": str(tmp_path / "nowhere")}
    r = ctr(containerd, "images", "pull", "--plain-http", "--user", "alice:s3cret", ref, env=nowhere)
    assert r.returncode == 0, r.stderr
    c.call("images.delete", name=ref)
    r = ctr(containerd, "images", "pull", "--plain-http", ref, env=nowhere)
    assert r.returncode == 1 and "authentication required" in r.stderr
    # what `docker login` writes
    import base64
    conf = tmp_path / "docker"
    conf.mkdir()
    (conf / "config.json").write_text(json.dumps(
        {"auths": {reg.address: {"auth": base64.b64encode(b"alice:s3cret").decode()}}}))
    assert ctr(containerd, "images", "pull", "--plain-http", ref, env={"DOCKER_CONFIG": str(conf)}).returncode == 0
    c.call("images.delete", name=ref)
    # a credential helper comes before auths
    helper_dir = tmp_path / "helpers"
    helper_dir.mkdir()
    helper = helper_dir / "docker-credential-testhelper"
    helper.write_text('#!/bin/sh\nread server\n[ "$server" = "%s" ] || exit 1\n'
                      'echo \'{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}\'\n'
                      % (reg.address, reg.address))
    helper.chmod(0o755)
    (conf / "config.json").write_text(json.dumps(
        {"auths": {reg.address: {"auth": base64.b64encode(b"alice:wrong").decode()}},
         "credHelpers": {reg.address: "testhelper"}}))
    r = ctr(containerd, "images", "pull", "--plain-http", ref,
            env={"DOCKER_CONFIG": str(conf), "PATH": f"{helper_dir}:{os.environ['PATH']}"})
    assert r.returncode == 0, r.stderr


def test_bearer_token_flow(containerd, rootfs_template, tmp_path):
    from tests.fixtures.tokenserver import TokenServer
    tokens = TokenServer(tmp_path / "tokens", {"bob": "hunter2"}).start()
    reg = RegistryServer(tmp_path / "bearer", auth_config=tokens.registry_auth_config())
    try:
        reg.start()
        reg.push_archive(docker_archive(rootfs_template, str(tmp_path / "b.tar")), "team/app:2", creds="bob:hunter2")
        ref = f"{reg.address}/team/app:2"
        c = containerd.start()
        from busybox_engine.rpc.errors import Unauthenticated
        with pytest.raises(Unauthenticated):  # an anonymous token grants nothing here
            c.call("images.pull", name=ref, plain_http=True)
        with pytest.raises(Unauthenticated) as e:
            c.call("images.pull", name=ref, plain_http=True, user="bob", password="wrong")
        assert "refused the credentials" in str(e.value)
        before = len(tokens.issued)
        r = c.call("images.pull", name=ref, plain_http=True, user="bob", password="hunter2")
        assert r["name"] == ref
        # one token for the repository's pull scope, reused for the manifest and every blob
        issued = tokens.issued[before:]
        assert issued == [("bob", ["repository:team/app:pull"])]
        out = ctr(containerd, "run", "--rm", ref, "t1", "echo", "pulled with a token")
        assert out.stdout == "pulled with a token\n", out.stderr
        # push with a token for two repositories: blobs mounted from the first
        r = c.call("images.push", name=f"{reg.address}/team/copy:1", image=ref, plain_http=True,
                   user="bob", password="hunter2", mount_from="team/app")
        assert (r["uploaded"], r["mounted"]) == (0, 2)
        assert ("bob", ["repository:team/copy:pull,push", "repository:team/app:pull"]) in tokens.issued
    finally:
        reg.stop()
        tokens.stop()


@pytest.fixture(scope="module")
def shared_registry(tmp_path_factory):
    r = RegistryServer(tmp_path_factory.mktemp("shared-registry")).start()
    yield r
    r.stop()


from tests.supervisor.test_images import HOSTILE, hostile_entries  # noqa: E402 - the import test's cases


@pytest.mark.parametrize("entries, expect", HOSTILE)
def test_hostile_layers_from_a_registry(containerd, shared_registry, tmp_path, entries, expect):
    c = containerd.start()
    host, entries = hostile_entries(entries, tmp_path)
    name = f"evil/{tmp_path.name.lower().replace('_', '-')}:1"
    shared_registry.push_archive(layered_archive(str(tmp_path / "evil.tar"), [tar_layer(entries)]), name)
    ref = f"{shared_registry.address}/{name}"
    if expect:
        with pytest.raises(InvalidArgument, match=expect):
            c.call("images.pull", name=ref, plain_http=True)
    else:
        c.call("images.pull", name=ref, plain_http=True)
    assert os.listdir(host) == []
    assert not os.path.exists(tmp_path / "escape") and not os.path.exists("/abs/file")
    assert os.listdir(tmp_path / "root" / "snapshots" / "overlayfs" / "tmp") == []
    assert c.call("version")  # the daemon stays up


def test_zstd_layers(containerd, registry, rootfs_template, tmp_path):
    archive = docker_archive(rootfs_template, str(tmp_path / "b.tar"))
    r = subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-compress-format", "zstd",
                        "--format", "oci", f"docker-archive:{archive}",
                        f"docker://{registry.address}/zstd/busybox:1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    layers = _manifest(registry, "zstd/busybox", "1", oci=True)["layers"]
    assert layers[0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    containerd.start()
    ref = f"{registry.address}/zstd/busybox:1"
    assert ctr(containerd, "images", "pull", "--plain-http", ref).returncode == 0
    out = ctr(containerd, "run", "--rm", ref, "t1", "echo", "zstd")
    assert out.stdout == "zstd\n", out.stderr


def test_a_config_whose_diff_id_does_not_match_its_layer(containerd, registry, tmp_path):
    layer = tar_layer([("hello", "file", b"hello\n")])
    registry.put_image("wrongdiff", "1", [layer], diff_ids=["sha256:" + "0" * 64])
    c = containerd.start()
    with pytest.raises(FailedPrecondition) as e:
        c.call("images.pull", name=f"{registry.address}/wrongdiff:1", plain_http=True)
    assert "does not match diff_id" in str(e.value)
    assert_nothing_unpacked(c, tmp_path)


INDEX = "application/vnd.oci.image.index.v1+json"


def test_image_indexes(containerd, registry, tmp_path):
    amd = registry.put_image("multi", "amd", [tar_layer([("arch", "file", b"amd64\n")])])
    arm = registry.put_image("multi", "arm", [tar_layer([("arch", "file", b"arm64\n")])],
                             config_extra={"architecture": "arm64"})
    entries = [dict(arm, platform={"os": "linux", "architecture": "arm64", "variant": "v8"}),
               dict(amd, platform={"os": "linux", "architecture": "amd64"})]
    registry.put_manifest("multi", "1", {"schemaVersion": 2, "mediaType": INDEX, "manifests": entries}, INDEX)
    c = containerd.start()
    ref = f"{registry.address}/multi:1"
    # linux/amd64 by default, --platform for another
    assert c.call("images.pull", name=ref, plain_http=True)["target"]["digest"] == amd["digest"]
    got = c.call("images.pull", name=ref, plain_http=True, platform="linux/arm64")["target"]["digest"]
    assert got == arm["digest"]
    with pytest.raises(NotFound) as e:
        c.call("images.pull", name=ref, plain_http=True, platform="windows/amd64")
    assert "no matching manifest for windows/amd64" in str(e.value)
    # an index whose entry lies about the manifest's size
    lying = [dict(amd, size=amd["size"] + 1, platform={"os": "linux", "architecture": "amd64"})]
    registry.put_manifest("multi", "lies", {"schemaVersion": 2, "mediaType": INDEX, "manifests": lying}, INDEX)
    with pytest.raises(FailedPrecondition):
        c.call("images.pull", name=f"{registry.address}/multi:lies", plain_http=True)
    # indexes of indexes of ...: a bounded walk, not a loop
    desc = amd
    for i in range(4):
        desc = registry.put_manifest("multi", f"deep{i}", {"schemaVersion": 2, "mediaType": INDEX, "manifests": [
            dict(desc, platform={"os": "linux", "architecture": "amd64"})]}, INDEX)
    assert c.call("images.pull", name=f"{registry.address}/multi:deep2", plain_http=True)["target"] == amd
    with pytest.raises(InvalidArgument) as e:
        c.call("images.pull", name=f"{registry.address}/multi:deep3", plain_http=True)
    assert "nested too deep" in str(e.value)
    assert c.call("version")


def test_oversized_and_endless_manifests_are_refused(containerd, registry, tmp_path):
    import hashlib

    from tests.fixtures.lyingregistry import LyingRegistry
    registry.put_image("big", "ok", [tar_layer([("f", "file", b"x")])])
    doc = _manifest(registry, "big", "ok", oci=True)
    doc["annotations"] = {"padding": "x" * (5 << 20)}  # 5 MiB, past distribution's 4 MiB
    raw = json.dumps(doc).encode()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    # the real registry neither stores nor reads such a manifest: a front that lies serves it
    liar = LyingRegistry(registry.address).start()
    try:
        oci = "application/vnd.oci.image.manifest.v1+json"
        liar.answers["/v2/big/manifests/huge"] = liar.answers[f"/v2/big/manifests/{digest}"] = (oci, raw)

        def endless(out):
            out.write(b'{"schemaVersion": 2, "layers": [')
            while True:
                out.write(b'{"digest": "sha256:00", "size": 1},' * 1000)
        liar.answers["/v2/big/manifests/endless"] = (oci, endless)
        c = containerd.start()
        for name in ("big:huge", f"big@{digest}", "big:endless"):
            with pytest.raises(InvalidArgument) as e:
                c.call("images.pull", name=f"{liar.address}/{name}", plain_http=True)
            assert "manifest larger than 4194304 bytes" in str(e.value)
        # the same as the entry of an index: refused too (the registry will not take an index
        # whose entries it does not hold, so the front serves that as well)
        index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [
            {"mediaType": oci, "digest": digest, "size": len(raw), "platform": {"os": "linux", "architecture": "amd64"}}]}
        liar.answers["/v2/big/manifests/index"] = (INDEX, json.dumps(index).encode())
        with pytest.raises(InvalidArgument):
            c.call("images.pull", name=f"{liar.address}/big:index", plain_http=True)
        assert c.call("images.list") == [] and c.call("content.list") == []
        # the daemon is fine, and the honest image comes through the same front
        assert c.call("images.pull", name=f"{liar.address}/big:ok", plain_http=True)
    finally:
        liar.stop()


def test_pull_progress_is_told_by_bytes(containerd, registry, tmp_path):
    import hashlib
    import time

    from tests.fixtures.lyingregistry import LyingRegistry
    layer = tar_layer([("big", "file", os.urandom(4 << 20))])
    registry.put_image("slow", "1", [layer])
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    front = LyingRegistry(registry.address).start()

    def slowly(out):  # 4 MiB in about a second: a slow link
        for i in range(0, len(layer), 256 << 10):
            out.write(layer[i:i + (256 << 10)])
            out.flush()
            time.sleep(0.06)
    front.answers[f"/v2/slow/blobs/{digest}"] = ("application/octet-stream", slowly)
    try:
        c = containerd.start()
        c.wait(c.send("images.pull", {"name": f"{front.address}/slow:1", "plain_http": True}))
        told = [p for m, p in c.notifications if m == "images.pull.progress" and p["digest"] == digest]
        offsets = [p["offset"] for p in told if p["status"] == "downloading"]
        assert len(offsets) >= 3 and offsets == sorted(offsets) and 0 < offsets[0] and offsets[-1] <= len(layer), told
        assert told[-1]["status"] == "done" and all(p["size"] == len(layer) for p in told)
    finally:
        front.stop()


def test_a_download_that_starts_over_unpacks_from_the_whole_blob(containerd, registry, rootfs_template, tmp_path):
    """A layer unpacks as it downloads; when a retry gets the blob from its
    start (a server without ranges), what was unpacked is thrown away."""
    import gzip
    import hashlib

    from tests.fixtures.images import layer_tar
    from tests.fixtures.lyingregistry import LyingRegistry
    layer = tar_layer([("first", "file", os.urandom(2 << 20)), ("second", "file", b"second\n")])
    registry.put_image("over", "1", [layer_tar(rootfs_template), layer], compress=lambda b: gzip.compress(b, mtime=0),
                       media_type="application/vnd.oci.image.layer.v1.tar+gzip")
    blob = gzip.compress(layer, mtime=0)
    assert hashlib.sha256(blob).hexdigest() == _manifest(registry, "over", "1", oci=True)["layers"][1]["digest"][7:]
    front = LyingRegistry(registry.address).start()
    served = []

    def cut_then_whole(out):  # no Content-Length: a short body is a dropped connection
        served.append(1)
        out.write(blob[:len(blob) // 2] if len(served) == 1 else blob)
    front.answers[f"/v2/over/blobs/sha256:{hashlib.sha256(blob).hexdigest()}"] = ("application/octet-stream",
                                                                                 cut_then_whole)
    try:
        c = containerd.start()
        ref = f"{front.address}/over:1"
        c.call("images.pull", name=ref, plain_http=True)
        assert len(served) == 2
        r = ctr(containerd, "run", "--rm", ref, "t1", "sh", "-c", "wc -c </first; cat /second")
        assert r.stdout.split() == [str(2 << 20), "second"], r.stderr
    finally:
        front.stop()


def test_push_then_skopeo_and_we_pull_it_back(containerd, registry, rootfs_template, tmp_path):
    c = containerd.start()
    big = os.urandom(3 << 20)  # incompressible: goes up in chunks below
    from tests.fixtures.images import layer_tar
    archive = layered_archive(str(tmp_path / "p.tar"), [layer_tar(rootfs_template), tar_layer([("big", "file", big)]),
                                                        tar_layer([("small", "file", b"small\n")])], tag="mine:1")
    c.call("images.import", path=archive)
    ref = f"{registry.address}/pushed/mine:2"
    r = ctr(containerd, "images", "push", "--plain-http", "--chunk-size", str(1 << 20), ref, "mine:1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1].endswith("4 uploaded, 0 mounted, 0 already there")
    # a real client reads what we pushed
    out = tmp_path / "skopeo-oci"
    s = subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}", f"oci:{out}:x"],
                       capture_output=True, text=True, timeout=120)
    assert s.returncode == 0, s.stderr
    # again: the registry has every blob
    again = c.call("images.push", name=ref, image="mine:1", plain_http=True)
    assert (again["uploaded"], again["existing"]) == (0, 4)
    # another repository of the same registry: blobs mounted, not uploaded
    other = f"{registry.address}/elsewhere/mine:1"
    moved = c.call("images.push", name=other, image="mine:1", plain_http=True, mount_from="pushed/mine")
    assert (moved["uploaded"], moved["mounted"]) == (0, 4)
    # and back: pulled under its new name, the content is the same
    c.call("images.delete", name="mine:1")
    c.call("images.pull", name=other, plain_http=True)
    r = ctr(containerd, "run", "--rm", other, "t1", "sh", "-c", "cat /small; wc -c </big")
    assert r.stdout.split() == ["small", str(3 << 20)], r.stderr
    with pytest.raises(NotFound):
        c.call("images.push", name=other, image="no-such:image", plain_http=True)


def test_kill_9_of_containerd_in_the_middle_of_a_pull(containerd, registry, rootfs_template, tmp_path):
    import signal

    from tests.fixtures.images import layer_tar
    layers = [layer_tar(rootfs_template)] + [tar_layer([(f"blob{i}", "file", os.urandom(20 << 20))])
                                             for i in range(3)]
    registry.put_image("heavy", "1", layers)
    ref = f"{registry.address}/heavy:1"
    c = containerd.start()
    c.send("images.pull", {"name": ref, "plain_http": True})
    method, event = c.next_notification()  # the config is in: the layers are on their way
    assert method == "images.pull.progress"
    containerd.stop(signal.SIGKILL)
    c.close()
    c = containerd.start()
    root = tmp_path / "root"
    assert c.call("images.list") == []
    assert os.listdir(root / "content" / "ingest") == []  # partial downloads cleared at start
    assert os.listdir(root / "snapshots" / "overlayfs" / "tmp") == []  # and partial unpacks
    c.call("images.pull", name=ref, plain_http=True)
    r = ctr(containerd, "run", "--rm", ref, "t1", "sh", "-c", "wc -c </blob2")
    assert r.stdout.strip() == str(20 << 20), r.stderr


def test_concurrent_pulls_fetch_each_blob_once(containerd, rootfs_template, tmp_path):
    import threading

    from tests.fixtures.images import layer_tar
    reg = RegistryServer(tmp_path / "counted", log_level="info").start()
    try:
        layers = [layer_tar(rootfs_template)] + [tar_layer([(f"f{i}", "file", os.urandom(4 << 20))])
                                                 for i in range(3)]
        reg.put_image("twice", "1", layers)
        ref = f"{reg.address}/twice:1"
        containerd.start()
        results = []

        def one():
            with containerd.client() as c:
                results.append(c.call("images.pull", name=ref, plain_http=True)["target"]["digest"])
        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 2 and results[0] == results[1]
        gets = [p for p in reg.requests("GET", "/v2/twice/blobs/")]
        assert sorted(gets) == sorted(set(gets)) and len(gets) == 5  # config + 4 layers, each once
        r = ctr(containerd, "run", "--rm", ref, "t1", "sh", "-c", "ls /f0 /f2")
        assert r.returncode == 0, r.stderr
    finally:
        reg.stop()


def test_loopback_registries_are_insecure_and_mirrors_serve_docker_hub(containerd, registry, rootfs_template,
                                                                        tmp_path):
    registry.push_archive(docker_archive(rootfs_template, str(tmp_path / "b.tar"), cmd=("echo", "mirrored")),
                          "library/busybox:latest")
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"registry-mirrors": ["http://127.0.0.1:1", f"http://{registry.address}"]}))
    containerd.start("--registry-config", str(cfg))
    # no --plain-http: 127.0.0.1 is insecure, HTTPS fails, HTTP is used (as Docker does)
    r = ctr(containerd, "images", "pull", f"{registry.address}/library/busybox:latest")
    assert r.returncode == 0, r.stderr
    # a Docker Hub name, served by the second mirror (the first is down), with no way out to the internet
    r = ctr(containerd, "images", "pull", "busybox")
    assert r.returncode == 0, r.stderr
    assert "docker.io/library/busybox:latest" in ctr(containerd, "images", "ls", "-q").stdout.split()
    r = ctr(containerd, "run", "--rm", "busybox", "t1")
    assert r.stdout == "mirrored\n", r.stderr


def test_a_decompression_bomb_is_stopped(containerd, registry, tmp_path):
    import zstandard
    bomb = tar_layer([("zeros", "file", bytes(200 << 20))])  # 200 MB of zeros: a few KB in zstd
    registry.put_image("bomb", "1", [bomb], compress=lambda b: zstandard.ZstdCompressor(level=19).compress(b),
                       media_type="application/vnd.oci.image.layer.v1.tar+zstd")
    c = containerd.start()
    with pytest.raises(FailedPrecondition) as e:
        c.call("images.pull", name=f"{registry.address}/bomb:1", plain_http=True)
    assert "decompression bomb" in str(e.value)
    assert_nothing_unpacked(c, tmp_path)
    # gzip stays within its 1032:1 at worst: the same zeros gzipped are an image
    import gzip
    registry.put_image("zeros", "1", [bomb], compress=lambda b: gzip.compress(b, 9),
                       media_type="application/vnd.oci.image.layer.v1.tar+gzip")
    c.call("images.pull", name=f"{registry.address}/zeros:1", plain_http=True)


def test_a_download_cut_midway_is_resumed(containerd, rootfs_template, tmp_path):
    from tests.fixtures.flakyproxy import FlakyProxy
    from tests.fixtures.images import layer_tar
    reg = RegistryServer(tmp_path / "behind", log_level="info").start()
    host, port = reg.address.split(":")
    proxy = FlakyProxy((host, int(port)), cut_after=2 << 20).start()
    try:
        big = os.urandom(6 << 20)
        reg.put_image("cut", "1", [layer_tar(rootfs_template), tar_layer([("big", "file", big)])])
        c = containerd.start()
        ref = f"{proxy.address}/cut:1"
        c.call("images.pull", name=ref, plain_http=True)
        assert proxy.cuts == 1
        # one blob asked for twice: the second time from where it broke
        gets = [(path, rng) for path, rng in proxy.requests if path.startswith("GET /v2/cut/blobs/")]
        paths = [path for path, _ in gets]
        assert len(paths) == len(set(paths)) + 1, gets
        again = [(path, rng) for path, rng in gets if paths.count(path) == 2]
        assert again[0][1] == "" and again[1][1].startswith("bytes=") and again[1][1] != "bytes=0-", gets
        r = ctr(containerd, "run", "--rm", ref, "t1", "sh", "-c", "wc -c </big")
        assert r.stdout.strip() == str(6 << 20), r.stderr
    finally:
        proxy.stop()
        reg.stop()
