"""A real distribution image end to end: Debian bookworm (debootstrap,
made like Docker's debian:bookworm) into the real registry with skopeo,
pulled by ctr, run, pushed back under another name and read by skopeo."""
import json
import os
import subprocess
import tarfile

import pytest

from tests.fixtures.debian import bookworm_archive
from tests.fixtures.registry import RegistryServer
from tests.supervisor.test_pull import ctr


@pytest.fixture(scope="module")
def debian_registry(tmp_path_factory):
    r = RegistryServer(tmp_path_factory.mktemp("debian-registry")).start()
    try:
        r.push_archive(bookworm_archive(), "library/debian:bookworm")
        yield r
    finally:
        r.stop()


def test_pull_run_and_push_back_debian_bookworm(containerd, debian_registry, tmp_path):
    containerd.start()
    ref = f"{debian_registry.address}/library/debian:bookworm"
    r = ctr(containerd, "images", "pull", "--plain-http", ref)
    assert r.returncode == 0, r.stderr
    r = ctr(containerd, "run", "--rm", ref, "deb1", "cat", "/etc/debian_version")
    assert r.returncode == 0 and r.stdout.startswith("12."), (r.stdout, r.stderr)
    # every file of every package as dpkg recorded it (md5sums), and the
    # bits a careless unpack loses: setuid, ownership, hard links, symlinks
    script = ("dpkg --verify && echo verified; "
              "stat -c '%a %U:%G' /usr/bin/passwd /usr/bin/chage /var/log/apt; "
              "readlink /bin /etc/localtime; "
              "[ /usr/bin/perl -ef /usr/bin/perl5.36.0 ] && echo linked; "
              "dpkg-query -W -f '${Package}\\n' | wc -l; apt-get -qq check && echo apt-ok")
    r = ctr(containerd, "run", "--rm", ref, "deb2", "bash", "-c", script)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "verified", r.stdout  # dpkg prints nothing else when all is intact
    assert out[1:4] == ["4755 root:root", "2755 root:shadow", "755 root:root"], r.stdout
    assert out[4:6] == ["usr/bin", "/usr/share/zoneinfo/Etc/UTC"], r.stdout
    assert out[6] == "linked" and int(out[7]) > 80 and out[8] == "apt-ok", r.stdout
    # the image's own command and environment
    r = ctr(containerd, "run", "--rm", ref, "deb3", "bash", "-c", 'echo "$PATH"; id -un')
    assert r.stdout.split() == ["/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "root"], r.stderr

    # back to the registry under another name: blobs mounted from the first repository
    copy = f"{debian_registry.address}/mine/debian-{os.urandom(4).hex()}:copy"  # the registry is the module's
    r = ctr(containerd, "images", "push", "--plain-http", copy, ref)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1].endswith("0 uploaded, 2 mounted, 0 already there"), r.stdout
    s = subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{copy}",
                        f"oci:{tmp_path / 'oci'}:copy"], capture_output=True, text=True, timeout=120)
    assert s.returncode == 0, s.stderr
    index = json.loads((tmp_path / "oci" / "index.json").read_text())
    manifest = json.loads((tmp_path / "oci" / "blobs" / "sha256" /
                           index["manifests"][0]["digest"].split(":")[1]).read_text())
    config = json.loads((tmp_path / "oci" / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1])
                        .read_text())
    assert config["rootfs"]["diff_ids"] == _archive_config()["rootfs"]["diff_ids"]
    assert config["config"]["Cmd"] == ["bash"]


def _archive_config() -> dict:
    with tarfile.open(bookworm_archive()) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        return json.load(tar.extractfile(manifest[0]["Config"]))
