"""ImageService over the CRI: pull from a real registry (Debian's
docker-registry on 127.0.0.1), list, status, remove, filesystem info; the
images live in namespace k8s.io, shared with `ctr -n k8s.io`."""
import subprocess

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from tests.fixtures.images import docker_archive
from tests.fixtures.registry import RegistryServer


@pytest.fixture
def registry(tmp_path):
    r = RegistryServer(tmp_path / "registry").start()
    yield r
    r.stop()


def ctr_names(cri) -> list:
    c = cri.containerd
    r = subprocess.run(c.engine.argv("ctr", "-a", str(c.sock), "-n", "k8s.io", "images", "ls", "-q"),
                       env=c.engine.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return sorted(r.stdout.split())


def test_pull_list_inspect_remove(cri, registry, rootfs_template, tmp_path):
    registry.push_archive(docker_archive(rootfs_template, str(tmp_path / "b.tar")), "team/busybox:1.0")
    cri.start()
    ref = f"{registry.address}/team/busybox:1.0"
    out = cri.crictl("pull", ref).stdout
    assert out.startswith("Image is up to date for sha256:")
    image_id = out.split()[-1]
    images = cri.crictl_json("images")["images"]
    assert len(images) == 1
    img = images[0]
    assert img["id"] == image_id and img["repoTags"] == [ref]
    assert len(img["repoDigests"]) == 1 and img["repoDigests"][0].startswith(f"{registry.address}/team/busybox@sha256:")
    assert int(img["size"]) > 0
    # three names, as containerd's CRI plugin records them
    assert ctr_names(cri) == sorted([ref, img["repoDigests"][0], image_id])
    # by id, by short id, by digest reference: the same image
    for name in (image_id, image_id[len("sha256:"):], img["repoDigests"][0], ref):
        status = cri.crictl_json("inspecti", name)
        assert status["status"]["id"] == image_id, name
    assert status["info"]["imageSpec"]["rootfs"]["type"] == "layers"
    table = cri.crictl("images").stdout.splitlines()
    assert table[0].split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert table[1].split()[:3] == [f"{registry.address}/team/busybox", "1.0", image_id[7:20]]
    # a second pull changes nothing
    assert cri.crictl("pull", ref).stdout.split()[-1] == image_id
    assert len(cri.crictl_json("images")["images"]) == 1
    fs = cri.crictl_json("imagefsinfo")["status"]["imageFilesystems"][0]
    assert fs["fsId"]["mountpoint"].endswith("snapshots/overlayfs") and int(fs["usedBytes"]["value"]) > 0
    cri.crictl("rmi", ref)
    assert cri.crictl_json("images")["images"] == [] and ctr_names(cri) == []
    # removing what is gone is not an error (kubelet's image GC relies on it)
    from busybox_engine.cri import cri_api_pb2 as pb
    cri.call("ImageService/RemoveImage", image=pb.ImageSpec(image=image_id))


def test_image_status_of_missing_image_is_empty(cri):
    cri.start()
    from busybox_engine.cri import cri_api_pb2 as pb
    reply = cri.call("ImageService/ImageStatus", image=pb.ImageSpec(image="busybox:nope"))
    assert not reply.HasField("image")
    r = cri.crictl("inspecti", "busybox:nope", check=False)
    assert r.returncode != 0 and "no such image" in r.stderr


def test_pull_errors(cri, registry):
    cri.start()
    from busybox_engine.cri import cri_api_pb2 as pb
    with pytest.raises(GRPCError) as e:
        cri.call("ImageService/PullImage", image=pb.ImageSpec(image="Busybox"))
    assert e.value.status == Status.INVALID_ARGUMENT and "must be lowercase" in e.value.message
    with pytest.raises(GRPCError) as e:
        cri.call("ImageService/PullImage", image=pb.ImageSpec(image=f"{registry.address}/no/such:thing"))
    assert e.value.status == Status.NOT_FOUND
    with pytest.raises(GRPCError) as e:
        cri.call("ImageService/PullImage", image=pb.ImageSpec(image=""))
    assert e.value.status == Status.INVALID_ARGUMENT
    assert cri.crictl_json("images")["images"] == []


def test_pull_with_credentials(cri, private_registry, rootfs_template, tmp_path):
    private_registry.push_archive(docker_archive(rootfs_template, str(tmp_path / "b.tar")), "secret/busybox:1",
                                  creds="alice:s3cret")
    cri.start()
    ref = f"{private_registry.address}/secret/busybox:1"
    r = cri.crictl("pull", ref, check=False)
    assert r.returncode != 0
    assert cri.crictl("pull", "--creds", "alice:s3cret", ref).stdout.startswith("Image is up to date")
    from busybox_engine.cri import cri_api_pb2 as pb
    import base64
    cri.crictl("rmi", ref)
    auth = pb.AuthConfig(auth=base64.b64encode(b"alice:s3cret").decode())
    assert cri.call("ImageService/PullImage", image=pb.ImageSpec(image=ref), auth=auth).image_ref.startswith("sha256:")


def test_pull_through_hosts_toml_mirror(cri, registry, rootfs_template, tmp_path):
    """certs.d/registry.k8s.io/hosts.toml sends registry.k8s.io's images to
    the local registry (both as mirror and as server: nothing leaves the host)."""
    registry.push_archive(docker_archive(rootfs_template, str(tmp_path / "b.tar")), "pause:3.9")
    certs = tmp_path / "certs.d"
    (certs / "registry.k8s.io").mkdir(parents=True)
    (certs / "registry.k8s.io" / "hosts.toml").write_text(
        f'server = "http://{registry.address}"\n\n'
        f'[host."http://{registry.address}"]\n  capabilities = ["pull", "resolve"]\n')
    cri.start("--cri-registry-config-path", str(certs))
    out = cri.crictl("pull", "registry.k8s.io/pause:3.9").stdout
    assert out.startswith("Image is up to date for sha256:")
    images = cri.crictl_json("images")["images"]
    assert images[0]["repoTags"] == ["registry.k8s.io/pause:3.9"]
    # a broken hosts.toml is the caller's error, with the file named
    (certs / "registry.k8s.io" / "hosts.toml").write_text("server = [")
    r = cri.crictl("pull", "registry.k8s.io/pause:3.9", check=False)
    assert r.returncode != 0 and "hosts.toml" in r.stderr
