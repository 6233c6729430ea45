"""runc: the OCI runtime's command line (runc 1.1 compatible).

Lean on purpose: containerd's shim and dockerd run this for every container
operation, so only the command that runs is imported.
"""
import sys

from busybox_engine import __version__

SPEC_VERSION = "1.1.0"
# runc's global flags: name -> takes a value
GLOBAL_FLAGS = {"root": True, "log": True, "log-format": True, "criu": True,
                "rootless": True, "debug": False, "systemd-cgroup": False}
COMMANDS = ()  # filled by the runtime issue: create, start, run, state, ...

USAGE = """NAME:
   runc - Open Container Initiative runtime (busybox-engine)

USAGE:
   runc [global options] command [command options] [arguments...]

GLOBAL OPTIONS:
   --debug             enable debug logging
   --log value         set the log file to write runc logs to (default is '/dev/stderr')
   --log-format value  set the log format ('text' (default), or 'json') (default: "text")
   --root value        root directory for storage of container state (default: "/run/runc")
   --systemd-cgroup    enable systemd cgroup support
   --help, -h          show help
   --version, -v       print the version
"""


def version_text() -> str:
    from busybox_engine._build_info import BUILD_ID
    return (f"runc version {__version__}\ncommit: busybox-engine-{BUILD_ID}\n"
            f"spec: {SPEC_VERSION}\npython: {sys.version.split()[0]}\n")


def parse_globals(argv: list) -> tuple:
    """runc's global flags (Go style: -x or --x, value after = or next)."""
    opts, i = {}, 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        name, eq, value = argv[i].lstrip("-").partition("=")
        if name in ("v", "version", "h", "help"):
            opts[name[0]] = True
        elif name in GLOBAL_FLAGS:
            if GLOBAL_FLAGS[name] and not eq:
                i += 1
                if i >= len(argv):
                    raise ValueError(f"flag needs an argument: -{name}")
                value = argv[i]
            opts[name] = value if GLOBAL_FLAGS[name] else True
        else:
            raise ValueError(f"flag provided but not defined: -{name}")
        i += 1
    return opts, argv[i:]


def main(argv: list) -> int:
    try:
        opts, rest = parse_globals(argv)
    except ValueError as e:
        sys.stderr.write(f"Incorrect Usage. {e}\n\n{USAGE}")
        return 1
    if opts.get("v"):
        sys.stdout.write(version_text())
        return 0
    if opts.get("h") or not rest:
        sys.stdout.write(USAGE)
        return 0
    if rest[0] not in COMMANDS:
        sys.stderr.write(f"runc: command {rest[0]!r} is not implemented\n")
        return 1
    return 1
