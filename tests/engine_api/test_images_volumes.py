"""Images and volumes through the real docker CLI: save | load, import,
tag, rmi, push and pull against a real registry, volumes in containers."""
import json
import os
import subprocess

import pytest

from tests.fixtures.registry import RegistryServer


@pytest.fixture
def registry(tmp_path):
    r = RegistryServer(tmp_path / "registry").start()
    yield r
    r.stop()


def test_save_load_tag_rmi(dockerd, tmp_path):
    tar = tmp_path / "saved.tar"
    r = dockerd.docker("save", "-o", str(tar), "busybox")
    assert r.returncode == 0, r.stderr
    assert dockerd.docker("tag", "busybox", "mine/box:v1").returncode == 0
    r = dockerd.docker("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert sorted(r.stdout.split()) == ["busybox:latest", "mine/box:v1"]
    r = dockerd.docker("rmi", "busybox")
    assert (r.returncode, r.stdout) == (0, "Untagged: busybox:latest\n")   # mine/box still holds it
    r = dockerd.docker("rmi", "mine/box:v1")
    assert r.returncode == 0 and "Untagged: mine/box:v1" in r.stdout and "Deleted: sha256:" in r.stdout
    assert dockerd.docker("images", "-q").stdout == ""
    r = dockerd.docker("load", "-i", str(tar))
    assert (r.returncode, r.stdout) == (0, "Loaded image: busybox:latest\n"), r.stderr
    assert dockerd.docker("run", "--rm", "busybox", "echo", "back").stdout == "back\n"
    r = dockerd.docker("rmi", "no-such:image")
    assert r.returncode == 1 and "No such image: no-such:image" in r.stderr


def test_rmi_refused_while_a_container_uses_it(dockerd):
    assert dockerd.docker("create", "--name", "user", "busybox", "true").returncode == 0
    r = dockerd.docker("rmi", "busybox")
    assert r.returncode == 1 and "conflict" in r.stderr and "is using its referenced image" in r.stderr
    assert dockerd.docker("rm", "user").returncode == 0


def test_import_a_rootfs_tar(dockerd, rootfs_template, tmp_path):
    tar = tmp_path / "rootfs.tar.gz"
    subprocess.run(["tar", "-czf", str(tar), "-C", rootfs_template, "."], check=True)
    with open(tar, "rb") as f:
        r = subprocess.run(["/usr/bin/docker", "import",
                            "--change", "CMD [\"echo\", \"imported\"]", "-", "imp:1"],
                           stdin=f, capture_output=True, text=True,
                           env=dict(os.environ, DOCKER_HOST=dockerd.host))
    assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    assert dockerd.docker("run", "--rm", "imp:1").stdout == "imported\n"


def test_push_and_pull_against_a_registry(dockerd, registry):
    target = f"{registry.address}/test/box:v2"
    assert dockerd.docker("tag", "busybox", target).returncode == 0
    layer = json.loads(dockerd.docker("image", "inspect", "busybox").stdout)[0]["RootFS"]["Layers"][0]
    r = dockerd.docker("push", target)
    assert r.returncode == 0, r.stderr
    # Docker's lines, layer by layer (ids: the blob digest's first 12 digits)
    assert r.stdout.splitlines()[0] == f"The push refers to repository [{registry.address}/test/box]"
    assert f"{layer[7:19]}: Pushed" in r.stdout.splitlines() and "v2: digest: sha256:" in r.stdout
    r = dockerd.docker("push", target)
    assert f"{layer[7:19]}: Layer already exists" in r.stdout.splitlines(), r.stdout
    assert dockerd.docker("rmi", target).returncode == 0
    r = dockerd.docker("pull", target)
    assert r.returncode == 0, r.stderr
    assert f"{layer[7:19]}: Already exists" in r.stdout.splitlines(), r.stdout
    assert f"Downloaded newer image for {target}" in r.stdout
    r = dockerd.docker("pull", target)
    assert f"Status: Image is up to date for {target}" in r.stdout.splitlines(), r.stdout
    # a layer not here yet is downloaded and told so
    assert dockerd.docker("rmi", target).returncode == 0
    assert dockerd.docker("rmi", "busybox").returncode == 0
    r = dockerd.docker("pull", target)
    lines = r.stdout.splitlines()
    assert [x for x in lines if x.startswith(layer[7:19])] == [
        f"{layer[7:19]}: {s}" for s in ("Pulling fs layer", "Verifying Checksum", "Download complete",
                                         "Pull complete")], r.stdout
    dockerd.docker("tag", target, "busybox")
    assert dockerd.docker("run", "--rm", target, "echo", "pulled").stdout == "pulled\n"
    r = dockerd.docker("pull", f"{registry.address}/test/nothing:here")
    assert r.returncode == 1 and "not found" in r.stderr.lower()


def test_volumes_named_anonymous_and_in_use(dockerd, tmp_path):
    r = dockerd.docker("volume", "create", "--label", "k=v", "data")
    assert (r.returncode, r.stdout) == (0, "data\n")
    r = dockerd.docker("run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert r.returncode == 0, r.stderr
    host = tmp_path / "host"
    host.mkdir()
    (host / "in").write_text("from host\n")
    r = dockerd.docker("run", "--rm", "-v", "data:/data:ro", "-v", f"{host}:/h", "busybox", "sh", "-c",
                       "cat /data/f /h/in; echo x > /data/g")
    assert r.stdout == "kept\nfrom host\n" and r.returncode != 0   # read-only
    v = json.loads(dockerd.docker("volume", "inspect", "data").stdout)[0]
    assert v["Name"] == "data" and v["Labels"] == {"k": "v"} and v["Driver"] == "local"
    assert open(os.path.join(v["Mountpoint"], "f")).read() == "kept\n"
    assert dockerd.docker("create", "--name", "holder", "-v", "data:/d", "busybox").returncode == 0
    r = dockerd.docker("volume", "rm", "data")
    assert r.returncode == 1 and "volume is in use" in r.stderr
    m = json.loads(dockerd.docker("inspect", "holder").stdout)[0]["Mounts"]
    assert [(x["Type"], x["Name"], x["Destination"]) for x in m] == [("volume", "data", "/d")]
    assert dockerd.docker("rm", "holder").returncode == 0
    r = dockerd.docker("volume", "ls", "-q")
    assert r.stdout == "data\n"
    assert dockerd.docker("volume", "rm", "data").returncode == 0
    # an anonymous volume goes with its --rm container
    assert dockerd.docker("run", "--rm", "-v", "/anon", "busybox", "true").returncode == 0
    assert dockerd.docker("volume", "ls", "-q").stdout == ""


def test_new_volumes_are_filled_from_the_image(dockerd):
    # names, modes, owners, sizes: not times (hostname and hosts are made anew each run)
    listing = ["sh", "-c", "cd /etc && stat -c '%n %a %u %g %s' *"]
    etc = dockerd.docker("run", "--rm", "busybox", *listing).stdout
    assert "passwd" in etc
    # an anonymous volume at /etc still shows the image's files, owners and modes
    r = dockerd.docker("run", "--rm", "-v", "/etc", "busybox", *listing)
    assert r.stdout == etc, r.stderr
    r = dockerd.docker("run", "--rm", "-v", "filled:/etc", "busybox", "true")
    assert r.returncode == 0, r.stderr
    r = dockerd.docker("run", "--rm", "-v", "filled:/data", "busybox", "sh", "-c",
                       "cmp /data/passwd /etc/passwd && echo same")
    assert r.stdout == "same\n", r.stderr
    # a volume with content keeps it; nocopy leaves a new one empty
    assert dockerd.docker("run", "--rm", "-v", "binvol:/bin", "busybox", "true").returncode == 0
    r = dockerd.docker("run", "--rm", "-v", "binvol:/etc", "busybox", "ls", "/etc")
    assert "sh" in r.stdout.split() and "group" not in r.stdout.split(), r.stderr
    r = dockerd.docker("run", "--rm", "-v", "empty:/etc:nocopy", "-v", "empty:/e2", "busybox",
                       "/bin/ls", "-A", "/e2")
    # only the mount points of /etc/hosts and co., made by the runtime, as with Docker
    assert (r.returncode, r.stdout) == (0, "hostname\nhosts\nresolv.conf\n"), r.stderr
    for v in ("filled", "empty", "binvol"):
        dockerd.docker("volume", "rm", v)


def test_cp_both_ways_running_and_stopped(dockerd, tmp_path):
    assert dockerd.docker("run", "-d", "--name", "files", "busybox", "sh", "-c",
                          "mkdir -p /data/sub; echo inside > /data/sub/f; ln -s /etc /data/etclink; "
                          "exec sleep 100").returncode == 0
    time_limit = 0
    while dockerd.docker("exec", "files", "test", "-f", "/data/sub/f").returncode != 0 and time_limit < 50:
        time_limit += 1
    out = tmp_path / "out"
    r = dockerd.docker("cp", "files:/data", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "sub" / "f").read_text() == "inside\n"
    assert os.readlink(out / "etclink") == "/etc"       # the link itself, not the host's /etc
    src = tmp_path / "in.txt"
    src.write_text("from the host\n")
    r = dockerd.docker("cp", str(src), "files:/data/sub/")
    assert r.returncode == 0, r.stderr
    assert dockerd.docker("exec", "files", "cat", "/data/sub/in.txt").stdout == "from the host\n"
    # a symlink in the container pointing at / stays inside the container
    r = dockerd.docker("cp", str(src), "files:/data/etclink/")
    assert r.returncode == 0, r.stderr
    assert dockerd.docker("exec", "files", "cat", "/etc/in.txt").stdout == "from the host\n"
    assert not os.path.exists("/etc/in.txt")
    r = dockerd.docker("cp", "files:/no/such", str(tmp_path / "x"))
    assert r.returncode == 1 and "No such container:path: files:/no/such" in r.stderr
    assert dockerd.docker("stop", "-t", "0", "files").returncode == 0
    r = dockerd.docker("cp", str(src), "files:/stopped.txt")
    assert r.returncode == 0, r.stderr
    r = dockerd.docker("cp", "files:/stopped.txt", str(tmp_path / "back.txt"))
    assert r.returncode == 0 and (tmp_path / "back.txt").read_text() == "from the host\n"
    assert dockerd.docker("start", "files").returncode == 0
    assert dockerd.docker("exec", "files", "cat", "/stopped.txt").stdout == "from the host\n"
    assert dockerd.docker("rm", "-f", "files").returncode == 0


def test_login_and_push_with_credentials(dockerd, private_registry):
    import docker
    addr = private_registry.address
    r = dockerd.docker("login", "-u", "alice", "--password-stdin", addr, input="wrong\n")
    assert r.returncode == 1 and "401 Unauthorized" in r.stderr, r.stderr
    r = dockerd.docker("login", "-u", "alice", "--password-stdin", addr, input="s3cret\n")
    assert r.returncode == 0 and "Login Succeeded" in r.stdout, r.stderr
    target = f"{addr}/alice/box:1"
    assert dockerd.docker("tag", "busybox", target).returncode == 0
    r = dockerd.docker("push", target)                      # credentials from the CLI's config
    assert r.returncode == 0, r.stderr
    client = docker.DockerClient(base_url=dockerd.host)
    try:
        assert client.login("alice", "s3cret", registry=addr)["Status"] == "Login Succeeded"
        with pytest.raises(docker.errors.APIError):
            client.login("alice", "nope", registry=addr, reauth=True)
        client.images.remove(target)
        img = client.images.pull(f"{addr}/alice/box", tag="1", auth_config={"username": "alice", "password": "s3cret"})
        assert f"{addr}/alice/box:1" in img.tags
    finally:
        client.close()


def test_search_says_no_index_is_reachable(dockerd):
    r = dockerd.docker("search", "busybox")
    assert r.returncode == 1 and "no registry index is reachable" in r.stderr and "index.docker.io" in r.stderr


def test_volumes_from_another_container(dockerd, tmp_path):
    host = tmp_path / "shared"
    host.mkdir()
    r = dockerd.docker("create", "--name", "src", "-v", "vf:/data", "-v", f"{host}:/host", "busybox")
    assert r.returncode == 0, r.stderr
    r = dockerd.docker("run", "--rm", "--volumes-from", "src", "busybox", "sh", "-c",
                       "echo v > /data/f && echo h > /host/g")
    assert r.returncode == 0, r.stderr
    assert (host / "g").read_text() == "h\n"
    r = dockerd.docker("run", "--rm", "--volumes-from", "src:ro", "busybox", "sh", "-c",
                       "cat /data/f; echo x > /data/f")
    assert r.stdout == "v\n" and r.returncode != 0
    r = dockerd.docker("volume", "rm", "vf")
    assert r.returncode == 1 and "in use" in r.stderr
    dockerd.docker("rm", "src")
    assert dockerd.docker("volume", "rm", "vf").returncode == 0


def test_devices_and_privileged_see_host_devices(dockerd):
    r = dockerd.docker("run", "--rm", "--device", "/dev/null:/dev/mynull", "busybox", "sh", "-c",
                       "echo hi > /dev/mynull && ls -l /dev/mynull")
    assert r.returncode == 0 and r.stdout.startswith("crw"), r.stderr
    r = dockerd.docker("run", "--rm", "busybox", "ls", "/dev/mynull")
    assert r.returncode != 0
    r = dockerd.docker("run", "--rm", "--device", "/nonexistent", "busybox", "true")
    assert r.returncode != 0 and "error gathering device information" in r.stderr
    host = sorted(n for n in os.listdir("/dev") if os.path.exists(f"/dev/{n}") and
                  (os.stat(f"/dev/{n}").st_mode & 0o170000) in (0o020000, 0o060000) and n != "console")
    r = dockerd.docker("run", "--rm", "--privileged", "busybox", "ls", "/dev")
    assert set(host) <= set(r.stdout.split()), set(host) - set(r.stdout.split())


def test_export_of_a_stopped_and_a_running_container(dockerd, tmp_path):
    import tarfile
    r = dockerd.docker("run", "-d", "--name", "ex", "-v", "exvol:/data", "busybox", "sh", "-c",
                       "echo mine > /made && echo vol > /data/v && sleep 300")
    assert r.returncode == 0, r.stderr
    import time
    deadline = time.time() + 10
    while dockerd.docker("exec", "ex", "cat", "/made").stdout != "mine\n" and time.time() < deadline:
        time.sleep(0.1)
    for label in ("running", "stopped"):
        out = tmp_path / f"{label}.tar"
        r = dockerd.docker("export", "-o", str(out), "ex")
        assert r.returncode == 0, r.stderr
        with tarfile.open(out) as t:
            names = set(t.getnames())
            assert "bin/busybox" in names and "made" in names
            assert t.extractfile("made").read() == b"mine\n"
            # the snapshot, not the container's mounts: no volume, no /proc files
            assert "data/v" not in names and not any(n.startswith("proc/") for n in names)
        if label == "running":
            assert dockerd.docker("stop", "-t", "0", "ex").returncode == 0
    dockerd.docker("rm", "-v", "ex")
    dockerd.docker("volume", "rm", "exvol")
