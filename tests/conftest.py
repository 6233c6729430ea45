import os
import shutil
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TOP not in sys.path:
    sys.path.insert(0, TOP)

# compiled seccomp filters go to a cache of this run, gone at its end
# (set before tests.engine copies the environment)
_SECCOMP = tempfile.mkdtemp(prefix="bbe-seccomp-")
os.environ["BUSYBOX_ENGINE_SECCOMP_CACHE"] = os.path.join(_SECCOMP, "cache")

import pytest  # noqa: E402

from tests.engine import engine, installed  # noqa: E402,F401 - fixtures


@pytest.fixture
def private_registry(tmp_path):
    """A real registry (Debian's docker-registry) on 127.0.0.1 that wants
    user alice, password s3cret."""
    import warnings
    with warnings.catch_warnings():  # deprecated, but the stdlib's bcrypt (what docker-registry wants)
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    from tests.fixtures.registry import RegistryServer
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:" + crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)) + "\n")
    r = RegistryServer(tmp_path / "private", htpasswd=str(htpasswd)).start()
    yield r
    r.stop()


def pytest_unconfigure(config):
    shutil.rmtree(_SECCOMP, ignore_errors=True)


def _network_traces() -> set:
    """Our iptables chains and rules, and links named as ours: what a test
    run must leave as it found it."""
    import subprocess
    out = set()
    if shutil.which("iptables"):
        for table in ("filter", "nat"):
            p = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True)
            out |= {f"iptables -t {table}: {line}" for line in p.stdout.splitlines() if "BBE-" in line}
    out |= {f"link {n}" for n in os.listdir("/sys/class/net") if n.startswith(("bbe", "bbt"))}
    return out


_TRACES_BEFORE = set()


def pytest_sessionstart(session):
    _TRACES_BEFORE.update(_network_traces())


def pytest_sessionfinish(session, exitstatus):
    left = sorted(_network_traces() - _TRACES_BEFORE)
    if left:
        sys.stderr.write("\nthe tests left networking behind:\n" + "".join(f"  {x}\n" for x in left))
        session.exitstatus = 1
