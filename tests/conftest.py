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

from tests.engine import engine, installed  # noqa: E402,F401 - fixtures


def pytest_unconfigure(config):
    shutil.rmtree(_SECCOMP, ignore_errors=True)
