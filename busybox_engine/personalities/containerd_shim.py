"""containerd-shim: the parent of one container (started by containerd)."""
import sys

from busybox_engine import __version__

FAST_EXIT = True  # see dispatch.run_personality

USAGE = """usage: containerd-shim --namespace NS --id ID --socket PATH --state-dir DIR
                       [--runtime PATH] [--runtime-root DIR]
                       [--log-max-size BYTES] [--log-max-files N]
"""


def main(argv: list) -> int:
    if argv and argv[0] in ("--version", "-v", "-version"):
        from busybox_engine._build_info import BUILD_ID
        sys.stdout.write(f"containerd-shim busybox-engine {__version__} {BUILD_ID}\n")
        return 0
    if argv[:1] == ["--zygote"] and len(argv) == 2:
        from busybox_engine.supervisor.zygote import serve as zygote
        return zygote(int(argv[1]))
    from busybox_engine.runtime.cli import UsageError, parse_flags
    flags = {"namespace": str, "id": str, "socket": str, "state-dir": str, "runtime": str,
             "runtime-root": str, "log-max-size": int, "log-max-files": int, "help": bool}
    try:
        opts, rest = parse_flags(argv, flags)
    except UsageError as e:
        sys.stderr.write(f"containerd-shim: {e}\n{USAGE}")
        return 2
    missing = [f for f in ("id", "socket", "state-dir") if not opts.get(f)]
    if opts.get("help") or missing or rest:
        sys.stderr.write((f"containerd-shim: missing --{missing[0]}\n" if missing else "") + USAGE)
        return 0 if opts.get("help") else 2
    from busybox_engine.daemon.lifecycle import run_daemon
    from busybox_engine.supervisor.shim import Config, serve
    config = Config(opts.get("namespace", "default"), opts["id"], opts["socket"], opts["state-dir"],
                    opts.get("runtime"), opts.get("runtime-root"), opts.get("log-max-size", 0),
                    opts.get("log-max-files", 1))
    return run_daemon(serve(config), "containerd-shim")
