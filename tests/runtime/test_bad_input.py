"""Bad input to runc: one clear error line, exit 1, nothing left behind
(no state directory, cgroup, mount or process)."""
import os

import pytest

from tests.helpers import children
from tests.runtime.conftest import mounts_under, reap


def assert_nothing_left(runc, cid, tmp_path):
    reap()
    assert not os.path.exists(os.path.join(runc.root, cid)), "state directory left"
    assert mounts_under(str(tmp_path)) == [], "mounts left"
    assert [p for p in children(os.getpid())] == [], "processes left"
    own = open("/proc/self/cgroup").read()
    for line in own.splitlines():
        _, ctrls, path = line.split(":", 2)
        for ctrl in ctrls.split(","):
            d = os.path.join("/sys/fs/cgroup", ctrl.replace("name=", ""), path.lstrip("/"), cid)
            assert not os.path.exists(d), f"cgroup left: {d}"


def create_fails(runc, tmp_path, bundle, cid="bad", expect=""):
    r = runc("create", "-b", bundle, cid, check=False)
    assert r.returncode == 1, r.stderr
    lines = [line for line in r.stderr.splitlines() if line]
    assert len(lines) == 1, r.stderr
    assert expect in lines[0], lines[0]
    assert "Traceback" not in r.stderr
    assert_nothing_left(runc, cid, tmp_path)
    return lines[0]


def edit(runc, bundle, fn):
    spec = runc.spec(bundle)
    fn(spec)
    runc.write_spec(bundle, spec)


def test_config_that_is_not_json(runc, tmp_path):
    b = runc.bundle(["true"])
    with open(os.path.join(b, "config.json"), "w") as f:
        f.write("{ not json")
    create_fails(runc, tmp_path, b, expect="config.json: invalid JSON")


def test_missing_config(runc, tmp_path):
    os.makedirs(tmp_path / "empty")
    create_fails(runc, tmp_path, str(tmp_path / "empty"), expect="not found")


@pytest.mark.parametrize("change,expect", [
    (lambda s: s["process"].__setitem__("args", "sh"), "process.args must be an array"),
    (lambda s: s["process"].__setitem__("args", []), "process.args must not be empty"),
    (lambda s: s.pop("root"), "root must be set"),
    (lambda s: s["root"].__setitem__("path", 7), "root.path must be a string"),
    (lambda s: s["linux"]["namespaces"].append({"type": "bogus"}), "unknown namespace type 'bogus'"),
    (lambda s: s["linux"]["namespaces"].append({"type": "pid"}), "duplicate namespace pid"),
    (lambda s: s["process"]["rlimits"].append({"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}),
     "unknown rlimit type 'RLIMIT_BOGUS'"),
    (lambda s: s["process"]["rlimits"].__setitem__(0, {"type": "RLIMIT_NOFILE", "soft": 9, "hard": 1}),
     "soft 9 must be within"),
    (lambda s: s["mounts"].append({"destination": "relative", "type": "tmpfs"}), "is not absolute"),
    (lambda s: s["process"].__setitem__("user", {"uid": "root"}), "process.user.uid must be an integer"),
    (lambda s: s.__setitem__("hooks", {"prestart": [{"path": "rel"}]}), "is not absolute"),
    (lambda s: s["root"].__setitem__("path", "nosuchdir"), "does not exist"),
])
def test_invalid_config(runc, tmp_path, change, expect):
    b = runc.bundle(["true"])
    edit(runc, b, change)
    create_fails(runc, tmp_path, b, expect=expect)


@pytest.mark.parametrize("cid,expect", [
    ("../x", "invalid container id format"),
    ("a/b", "invalid container id format"),
    ("..", "invalid container id format"),
    ("x" * 300, "invalid container id format"),
])
def test_invalid_ids(runc, tmp_path, cid, expect):
    b = runc.bundle(["true"])
    r = runc("create", "-b", b, cid, check=False)
    assert r.returncode == 1 and expect in r.stderr
    assert not os.path.exists(os.path.join(os.path.dirname(runc.root), "x"))
    assert_nothing_left(runc, "x", tmp_path)


def test_duplicate_id(runc, tmp_path):
    b = runc.bundle(["sleep", "100"])
    runc("create", "-b", b, "c1")
    pid = runc.state("c1")["pid"]
    r = runc("create", "-b", b, "c1", check=False)
    assert r.returncode == 1 and "container with id exists: c1" in r.stderr
    assert runc.state("c1")["pid"] == pid  # the first is untouched


def test_program_not_found(runc, tmp_path):
    b = runc.bundle(["nosuchprogram"])
    line = create_fails(runc, tmp_path, b, expect="executable file not found in $PATH")
    assert "nosuchprogram" in line


def test_bad_cwd(runc, tmp_path):
    b = runc.bundle(["true"])
    edit(runc, b, lambda s: s["process"].__setitem__("cwd", "/no/such/dir"))
    create_fails(runc, tmp_path, b, expect="chdir to cwd")


def test_namespace_path_of_the_wrong_type(runc, tmp_path):
    b = runc.bundle(["true"])
    edit(runc, b, lambda s: s["linux"]["namespaces"].__setitem__(
        1, {"type": "network", "path": "/proc/self/ns/uts"}))
    create_fails(runc, tmp_path, b, expect="is not a net namespace")


def test_failing_prestart_hook_undoes_create(runc, tmp_path):
    b = runc.bundle(["true"])
    edit(runc, b, lambda s: s.__setitem__("hooks", {"prestart": [{"path": "/bin/false"}]}))
    create_fails(runc, tmp_path, b, expect="prestart hook #0")


def test_mount_through_a_symlink_stays_inside_the_rootfs(runc, tmp_path):
    """A symlink in the image pointing at a host path cannot move a mount
    onto the host: the destination resolves inside the rootfs."""
    host_dir = tmp_path / "hostdir"
    host_dir.mkdir()
    (host_dir / "precious").write_text("keep")
    b = runc.bundle(["sh", "-c", "ls /evil/ > /dev/null; touch /evil/inside; cat /proc/mounts"],
                    root={"path": "rootfs"})
    os.symlink(str(host_dir), os.path.join(b, "rootfs", "evil"))
    os.symlink("../../../../../../" + str(host_dir).lstrip("/"), os.path.join(b, "rootfs", "evil2"))
    edit(runc, b, lambda s: s["mounts"].extend([
        {"destination": "/evil", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/evil2/sub", "type": "tmpfs", "source": "tmpfs"}]))
    r = runc("run", "-b", b, "c1", check=False)
    assert r.returncode == 0, r.stderr
    # the host directory is untouched; the mounts landed under the rootfs
    assert sorted(os.listdir(host_dir)) == ["precious"]
    assert os.path.isdir(os.path.join(b, "rootfs", str(host_dir).lstrip("/")))
    assert mounts_under(str(host_dir)) == []


def test_bind_source_missing(runc, tmp_path):
    b = runc.bundle(["true"])
    edit(runc, b, lambda s: s["mounts"].append(
        {"destination": "/data", "type": "bind", "source": "/no/such/source", "options": ["rbind"]}))
    create_fails(runc, tmp_path, b, expect="/no/such/source")




@pytest.mark.parametrize("change,expect", [
    # runc 1.1's own words for each
    (lambda s: s["process"].__setitem__("env", ["PATH=/bin", "NOEQUALS"]),
     'invalid environment variable: "NOEQUALS"'),
    (lambda s: s["process"].__setitem__("env", ["PATH=/bin", "=x"]),
     'environment variable name can\'t be empty: "=x"'),
    (lambda s: s["process"].__setitem__("args", ["/etc/passwd"]), 'exec: "/etc/passwd": permission denied'),
    (lambda s: s["process"].__setitem__("args", ["/etc"]), 'exec: "/etc": permission denied'),  # Go's LookPath
    (lambda s: s["process"].__setitem__("args", ["/no/such"]), 'exec: "/no/such": no such file or directory'),
    (lambda s: s["linux"].setdefault("resources", {}).__setitem__("unified", {"../../cgroup.procs": "1"}),
     "must be a file name"),
    (lambda s: s["linux"].setdefault("resources", {}).__setitem__("unified", {"pids.max": "10"}),
     "cannot use unified on cgroup v1"),
])
def test_refused_as_runc_refuses_them(runc, tmp_path, change, expect):
    b = runc.bundle(["true"])
    edit(runc, b, change)
    create_fails(runc, tmp_path, b, expect=expect.replace('"', '\\"'))  # quoted as logrus quotes


def test_a_rootfs_that_is_a_symlink(runc, tmp_path):
    b = runc.bundle(["true"])
    os.symlink("rootfs", os.path.join(b, "link"))
    for path in ("link", os.path.join(b, "link")):
        edit(runc, b, lambda s: s["root"].__setitem__("path", path))
        create_fails(runc, tmp_path, b, expect="invalid rootfs: not an absolute path, or a symlink")


def test_a_config_nested_too_deeply(runc, tmp_path):
    b = runc.bundle(["true"])
    with open(os.path.join(b, "config.json"), "w") as f:
        f.write('{"ociVersion": "1.0.2", "x": ' + "[" * 100000 + "]" * 100000 + "}")
    create_fails(runc, tmp_path, b, expect="nested too deeply")


def test_taken_as_runc_1_1_takes_them(runc, tmp_path):
    """runc 1.1 leaves unknown capabilities out with a warning, and takes
    any ociVersion string (or none): so do we."""
    b = runc.bundle(["sh", "-c", "grep CapBnd /proc/self/status"])
    spec = runc.spec(b)
    spec["process"]["capabilities"]["bounding"] += ["CAP_UNKNOWN", "UNKNOWN_CAP"]
    spec["ociVersion"] = "banana"
    runc.write_spec(b, spec)
    r = runc("run", "-b", b, "c1", check=False)
    assert r.returncode == 0 and r.stdout.startswith("CapBnd:"), r.stderr
    assert "ignoring unknown or unavailable capabilities: [CAP_UNKNOWN UNKNOWN_CAP]" in r.stderr
    spec.pop("ociVersion")
    runc.write_spec(b, spec)
    assert runc("run", "-b", b, "c2", check=False).returncode == 0
