"""`busybox-engine --install DIR`: unpack the standalone build, link names.

The single delivered file is a Nuitka onefile: started directly it is two
processes and slow to start. So it is unpacked once, under a lock, into a
versioned directory, and every personality symlink points at the standalone
binary in there: each daemon, shim and runc then runs as one process.
"""
import fcntl
import os
import shutil
import sys

from busybox_engine import __version__
from busybox_engine._build_info import BUILD_ID
from busybox_engine.dispatch import PERSONALITIES, PROGRAM

USAGE = f"usage: {PROGRAM} --install DIR [--libdir LIBDIR]\n"


def standalone_binary() -> str | None:
    """The running standalone build's binary, or None from source."""
    if "__compiled__" not in globals():
        return None
    # Started as the onefile, this process is the child the launcher
    # unpacked into a temporary directory: /proc/self/exe is in there.
    return os.readlink("/proc/self/exe")


def default_libroot(bindir: str) -> str:
    """DIR=/usr/local/bin -> /usr/local/lib/busybox-engine; else DIR/.busybox-engine."""
    bindir = os.path.abspath(bindir)
    if os.path.basename(bindir) == "bin":
        return os.path.join(os.path.dirname(bindir), "lib", PROGRAM)
    return os.path.join(bindir, "." + PROGRAM)


def unpack(source: str, libroot: str) -> str:
    """Copy the standalone tree into libroot/VERSION-BUILD once; return it."""
    target = os.path.join(libroot, f"{__version__}-{BUILD_ID}")
    os.makedirs(libroot, exist_ok=True)
    lock_fd = os.open(os.path.join(libroot, ".lock"),
                      os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if not os.path.isdir(target):
            # Copy beside the target and rename: a crash never leaves a
            # half-copied tree under the final name.
            tmp = f"{target}.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(source, tmp, symlinks=True)
            os.rename(tmp, target)
    finally:
        os.close(lock_fd)
    return target


def link(binary: str, bindir: str, name: str) -> None:
    """Point bindir/name at binary, replacing what is there atomically."""
    path = os.path.join(bindir, name)
    tmp = f"{path}.tmp-{os.getpid()}"
    os.symlink(binary, tmp)
    os.rename(tmp, path)


def main(argv: list) -> int:
    bindir = libroot = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--libdir" and args:
            libroot = args.pop(0)
        elif arg.startswith("--libdir="):
            libroot = arg.split("=", 1)[1]
        elif bindir is None and not arg.startswith("-"):
            bindir = arg
        else:
            sys.stderr.write(USAGE)
            return 2
    if bindir is None:
        sys.stderr.write(USAGE)
        return 2
    source = standalone_binary()
    if source is None:
        sys.stderr.write(f"{PROGRAM}: --install needs the built binary "
                         "(python3 build.py), not the source tree\n")
        return 1
    try:
        os.makedirs(bindir, exist_ok=True)
        target = unpack(os.path.dirname(source), libroot or default_libroot(bindir))
        binary = os.path.join(target, os.path.basename(source))
        for name in (PROGRAM, *PERSONALITIES):
            link(binary, bindir, name)
    except OSError as e:
        sys.stderr.write(f"{PROGRAM}: install `{bindir}`: {e.strerror or e}\n")
        return 1
    return 0
