"""How the shim runs its OCI runtime: our own runc forked from the shim
(or, for the quick commands, called inside it), any other runc-compatible
binary by path."""
import json
import os

# What a shim forks as its runtime: the zygote imports these up front, so
# neither a fork nor an inline call pays for importing them.
RUNTIME_MODULES = ("busybox_engine.runtime.cli", "busybox_engine.runtime.cli.create",
                   "busybox_engine.runtime.cli.start", "busybox_engine.runtime.cli.delete",
                   "busybox_engine.runtime.cli.kill", "busybox_engine.runtime.cli.exec",
                   "busybox_engine.runtime.cli.pause", "busybox_engine.runtime.cli.events",
                   "busybox_engine.runtime.cli.help", "busybox_engine.runtime.init",
                   "busybox_engine.runtime.sync", "busybox_engine.runtime.cgroups.v1",
                   "busybox_engine.runtime.cgroups.v2", "busybox_engine.runtime.cgroups.devicefilter")

# our runtime's commands that neither fork nor wait long: the shim runs them
# itself, in its own process, for a few ms less than a fork each
# (delete too once the init is reaped: before, it would wait on a zombie
# only we can reap)
INLINE_COMMANDS = frozenset(("start", "kill", "pause", "resume"))


def run_inline(argv: list) -> int:
    """Our runc called in this process; its exit status (errors go to its
    --log, as when it runs on its own)."""
    from busybox_engine.runtime.cli import main
    try:
        return main(argv)
    except Exception as e:  # noqa: BLE001 - a runtime bug must not take the shim down
        import traceback
        traceback.print_exc()
        from busybox_engine.runtime.cli import Log
        Log(argv[argv.index("--log") + 1], "json").error(f"{type(e).__name__}: {e}")
        return 1


def fork_runtime(argv: list, fds: list) -> int:
    """Our runc in a forked child with fds as its stdio, as if exec'd (its
    container init then comes to us, the subreaper, when it exits); the
    child's pid."""
    from busybox_engine.util.procs import fork_child
    return fork_child(_runtime_child, argv, fds)


def _runtime_child(argv: list, fds: list) -> int:
    import signal
    import sys
    signal.set_wakeup_fd(-1)  # the loop's wakeup fd is the parent's
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    for i, fd in enumerate(fds):
        os.dup2(fd, i)
    # Nothing of the shim's (its listening socket, lock file, event loop,
    # pipes) may reach runc, and through it a container init that waits,
    # unexec'd, for `start`: a shim's socket held open there keeps
    # accepting connections after the shim is gone.
    os.closerange(3, 1 << 20)
    from busybox_engine.core_pyx import linux
    linux.set_name("runc")
    sys.argv = ["runc", *argv]
    from busybox_engine.runtime.cli import main
    rc = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    return rc


def last_error(log: str) -> str:
    """The last error line of runc's json log."""
    try:
        with open(log) as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") == "error":
            return entry.get("msg", "")
    return ""
