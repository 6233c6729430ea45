"""One table of personalities, looked up by the name the executable runs as.

Imports only sys and os: every `runc`, shim and `docker` start pays for what
is imported here.
"""
import os
import sys

PROGRAM = "busybox-engine"

# name -> module under busybox_engine.personalities; --list and --install
# are generated from this table.
PERSONALITIES = {
    "containerd": "containerd",
    "containerd-shim": "containerd_shim",
    "ctr": "ctr",
    "docker": "docker",
    "dockerd": "dockerd",
    "pause": "pause",
    "runc": "runc",
}


def invoked_name() -> str:
    """The basename the executable was started under (the symlink's name)."""
    # A Nuitka build resolves argv[0] to the binary; the name it was
    # started under survives in __compiled__.original_argv0.
    compiled = globals().get("__compiled__")
    argv0 = getattr(compiled, "original_argv0", None) or sys.argv[0]
    return os.path.basename(argv0)


def set_process_name(name: str) -> None:
    """Make /proc/self/comm (what ps -o comm shows) the personality's name."""
    try:
        fd = os.open("/proc/self/comm", os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.write(fd, name.encode()[:15])
    except OSError:
        pass
    finally:
        os.close(fd)


def run_personality(name: str, argv: list) -> int:
    module_name = PERSONALITIES.get(name)
    if module_name is None:
        sys.stderr.write(f"{name}: personality not found\n")
        return 127
    set_process_name(name)
    sys.argv = [name] + argv
    module = __import__(f"busybox_engine.personalities.{module_name}",
                        fromlist=["main"])
    try:
        rc = module.main(argv)
    except KeyboardInterrupt:
        rc = 130
    except BrokenPipeError:
        rc = 1
    except Exception as e:  # noqa: BLE001 - users see one line, never a traceback
        if os.environ.get("BUSYBOX_ENGINE_DEBUG"):
            raise
        sys.stderr.write(f"{name}: internal error: {type(e).__name__}: {e}\n")
        rc = 1
    if getattr(module, "FAST_EXIT", False):
        # short-lived commands skip interpreter teardown (some ms a run);
        # they leave nothing to atexit handlers
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc if isinstance(rc, int) else 1)
    return rc


USAGE = f"""\
Usage: {PROGRAM} [--list | --version | --install DIR [--libdir DIR]]
       {PROGRAM} PERSONALITY [ARGS...]

One executable that acts as the personality it is started under
(a symlink named after it) or named as its first argument.
Personalities: {", ".join(PERSONALITIES)}
"""


def multiplexer(argv: list) -> int:
    """`busybox-engine ...`: the personality comes as the first argument."""
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 1
    first = argv[0]
    if first == "--list":
        sys.stdout.write("".join(f"{n}\n" for n in PERSONALITIES))
        return 0
    if first == "--version":
        from busybox_engine import __version__
        from busybox_engine._build_info import BUILD_ID
        sys.stdout.write(f"{PROGRAM} version {__version__}, build {BUILD_ID}\n")
        return 0
    if first == "--install":
        from busybox_engine.install import main as install_main
        return install_main(argv[1:])
    if first.startswith("-"):
        sys.stderr.write(f"{PROGRAM}: unknown option {first}\n{USAGE}")
        return 2
    return run_personality(first, argv[1:])


def ensure_stdio() -> None:
    """Open /dev/null on any of fds 0-2 that is closed (CI runs us with no
    stdin): otherwise the next socket or pipe would land there and be taken
    for stdio."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def main() -> int:
    ensure_stdio()
    name = invoked_name()
    argv = sys.argv[1:]
    # `python -m busybox_engine` and the binary under its own name multiplex.
    if name in (PROGRAM, "__main__.py", "__main__") or name.startswith(PROGRAM + "."):
        return multiplexer(argv)
    return run_personality(name, argv)
