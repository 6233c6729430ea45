"""How tests start personalities: from source, or the installed binary.

The `engine` fixture is parametrized over both forms, so every daemon test
runs against `python -m busybox_engine NAME` and against the built binary
started under its symlink name.
"""
import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import PYTHON, TOP

BINARY = os.environ.get("BUSYBOX_ENGINE_BINARY", os.path.join(TOP, "dist", "busybox-engine"))


class SourceEngine:
    form = "source"

    def argv(self, name: str, *args) -> list:
        return [PYTHON, "-m", "busybox_engine", name, *args]

    env = dict(os.environ, PYTHONPATH=TOP)


class BinaryEngine:
    form = "binary"

    def __init__(self, bindir: str):
        self.bindir = bindir

    def argv(self, name: str, *args) -> list:
        return [os.path.join(self.bindir, name), *args]

    env = None


def _built_from_these_sources() -> bool:
    sys.path.insert(0, TOP)
    try:
        from build import source_digest
    finally:
        sys.path.remove(TOP)
    r = subprocess.run([BINARY, "--version"], capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip().endswith(f"build {source_digest()}")


def ensure_binary() -> str:
    """dist/busybox-engine, (re)built once if missing or built from other sources.

    BUSYBOX_ENGINE_BINARY names a binary to test as it is.
    """
    if "BUSYBOX_ENGINE_BINARY" in os.environ:
        return BINARY
    if not (os.path.exists(BINARY) and _built_from_these_sources()):
        subprocess.run([sys.executable, os.path.join(TOP, "build.py"), "--no-deps"],
                       check=True, cwd=TOP)
    return BINARY


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """The built binary installed (unpacked + symlinks) in a temp dir."""
    binary = ensure_binary()
    bindir = tmp_path_factory.mktemp("install") / "bin"
    r = subprocess.run([binary, "--install", str(bindir)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    yield str(bindir)
    shutil.rmtree(os.path.dirname(str(bindir)), ignore_errors=True)


@pytest.fixture(params=["source", "binary"])
def engine(request):
    if request.param == "source":
        return SourceEngine()
    return BinaryEngine(request.getfixturevalue("installed"))
