"""Fixtures for the OCI runtime tests: a runc per test (own --root), busybox
bundles, and a check that nothing is left behind."""
import os
import subprocess

import pytest

from busybox_engine.core_pyx import linux
from tests.fixtures.bundles import make_bundle, make_rootfs, read_spec, write_spec


@pytest.fixture(scope="session", autouse=True)
def subreaper():
    """Orphaned container inits become our children, so we reap them
    (PID 1 reaps late on this machine)."""
    linux.set_child_subreaper(True)
    yield
    reap()


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@pytest.fixture(scope="session")
def rootfs_template(tmp_path_factory):
    return make_rootfs(str(tmp_path_factory.mktemp("template") / "rootfs"))


def mounts_under(path: str) -> list:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


class Runc:
    def __init__(self, engine, tmp_path, template):
        self.engine = engine
        self.tmp = tmp_path
        self.root = str(tmp_path / "state")
        self.template = template
        self.ids = set()
        self.cgroup_dirs = set()

    def __call__(self, *args, check: bool = True, timeout: float = 60, **kw):
        if len(args) >= 2 and args[0] in ("create", "run"):
            self.ids.add(args[-1])
        argv = self.engine.argv("runc", "--root", self.root, *args)
        if args and (args[0] == "create" or (args[0] == "run" and "-d" in args)) \
                and "stdout" not in kw:
            # the container keeps its stdio: pipes would never reach EOF
            r = self._run_to_files(argv, timeout, **kw)
        else:
            kw.setdefault("capture_output", True)
            kw.setdefault("text", True)
            r = subprocess.run(argv, env=self.engine.env, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"runc {' '.join(args)}: rc={r.returncode}\n{r.stderr}")
        if args and args[0] in ("create", "run") and os.path.exists(os.path.join(self.root, args[-1])):
            self._remember_cgroups(args[-1])
        return r

    def _run_to_files(self, argv, timeout, **kw):
        import tempfile
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(argv, env=self.engine.env, timeout=timeout, stdin=subprocess.DEVNULL,
                               stdout=out, stderr=err, **kw)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, p.returncode, out.read().decode(),
                                               err.read().decode())

    def _remember_cgroups(self, cid):
        import json
        try:
            with open(os.path.join(self.root, cid, "state.json")) as f:
                self.cgroup_dirs.update(json.load(f)["cgroup_paths"].values())
        except (OSError, ValueError, KeyError):
            pass

    def bundle(self, args, name="bundle", **changes) -> str:
        return make_bundle(str(self.tmp / name), args, self.template, **changes)

    def spec(self, bundle):
        return read_spec(bundle)

    def write_spec(self, bundle, spec):
        write_spec(bundle, spec)

    def state(self, cid) -> dict:
        import json
        return json.loads(self("state", cid).stdout)

    def cleanup(self):
        # exited exec -d processes are ours to reap (we are their subreaper):
        # until then a pid namespace's dying init waits for them, and Go
        # runc's delete --force gives up on an init "still running"
        reap()
        for cid in self.ids:
            self("delete", "--force", cid, check=False)
        reap()


def _used(engine, tmp_path, template):
    """A Runc for the test; after it, nothing left: no mount, state
    directory or cgroup."""
    r = Runc(engine, tmp_path, template)
    yield r
    r.cleanup()
    assert mounts_under(str(tmp_path)) == []
    left = [c for c in os.listdir(r.root)] if os.path.isdir(r.root) else []
    assert left == [], f"state left behind: {left}"
    assert [d for d in r.cgroup_dirs if os.path.exists(d)] == []


@pytest.fixture
def runc(engine, tmp_path, rootfs_template):
    yield from _used(engine, tmp_path, rootfs_template)


class GoRuncEngine:
    """Debian's runc 1.1 (Go), driven as ours is: the behaviour ours matches."""
    form = "go"
    env = None

    def argv(self, name: str, *args) -> list:
        assert name == "runc", name
        return ["/usr/sbin/runc", *args]


@pytest.fixture(params=["source", "binary", "go"])
def any_runc(request, tmp_path, rootfs_template):
    """Our runc (from source and built) and Debian's Go runc, in turn: a test
    of a behaviour asserts the same of both."""
    from tests.engine import BinaryEngine, SourceEngine
    if request.param == "go":
        if not os.path.exists("/usr/sbin/runc"):
            pytest.fail("Debian's runc is not installed: .ci/run installs it")
        eng = GoRuncEngine()
    elif request.param == "binary":
        eng = BinaryEngine(request.getfixturevalue("installed"))
    else:
        eng = SourceEngine()
    yield from _used(eng, tmp_path, rootfs_template)
