"""A shim's settings, from its command line (containerd passes them, or the
zygote hands them over)."""
import os

USAGE = """usage: containerd-shim --namespace NS --id ID --socket PATH --state-dir DIR
                       [--runtime PATH] [--runtime-root DIR]
                       [--log-max-size BYTES] [--log-max-files N]
"""
FLAGS = {"namespace": str, "id": str, "socket": str, "state-dir": str, "runtime": str,
         "runtime-root": str, "log-max-size": int, "log-max-files": int, "help": bool}


class Config:
    def __init__(self, namespace: str, cid: str, socket_path: str, state_dir: str,
                 runtime: str | None = None, runtime_root: str | None = None,
                 log_max_size: int = 0, log_max_files: int = 1):
        self.namespace = namespace
        self.id = cid
        self.socket = socket_path
        self.state_dir = state_dir
        self.runtime = runtime
        self.runtime_root = runtime_root or os.path.join(state_dir, "runc")
        self.log_max_size = log_max_size
        self.log_max_files = log_max_files


def parse(argv: list) -> Config | None:
    """The Config argv asks for; None for --help. UsageError if it is wrong."""
    from busybox_engine.util.flags import UsageError, parse_flags
    opts, rest = parse_flags(argv, FLAGS)
    if opts.get("help"):
        return None
    missing = [f for f in ("id", "socket", "state-dir") if not opts.get(f)]
    if missing:
        raise UsageError(f"missing --{missing[0]}")
    if rest:
        raise UsageError(f"unexpected argument {rest[0]!r}")
    return Config(opts.get("namespace", "default"), opts["id"], opts["socket"], opts["state-dir"],
                  opts.get("runtime"), opts.get("runtime-root"), opts.get("log-max-size", 0),
                  opts.get("log-max-files", 1))


def main(argv: list) -> int:
    """Parse argv and serve until told to stop; the exit status."""
    import sys
    from busybox_engine.util.flags import UsageError
    try:
        config = parse(argv)
    except UsageError as e:
        sys.stderr.write(f"containerd-shim: {e}\n{USAGE}")
        return 2
    if config is None:
        sys.stdout.write(USAGE)
        return 0
    from busybox_engine.daemon.lifecycle import run_daemon
    from busybox_engine.shim.service import serve
    return run_daemon(serve(config), "containerd-shim")
