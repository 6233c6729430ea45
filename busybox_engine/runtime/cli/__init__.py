"""runc's command line: global flags, one module per command, runc's
error lines (logrus text on stderr, or --log FILE in text or json)."""
import os
import sys

from busybox_engine.runtime.errors import RuntimeFailure
from busybox_engine.util.flags import UsageError, parse_flags  # noqa: F401 - the commands' API

DEFAULT_ROOT = "/run/runc"
# command -> module in this package
COMMANDS = {
    "create": "create", "start": "start", "run": "run", "state": "state",
    "list": "list_", "kill": "kill", "delete": "delete", "spec": "spec",
    "pause": "pause", "resume": "pause", "ps": "ps", "features": "features",
    "exec": "exec", "update": "update", "events": "events",
    "checkpoint": "checkpoint", "restore": "checkpoint",
}
# their words after the container id are the process's own: never reordered
NO_REORDER = ("exec", "ps")
GLOBAL_FLAGS = {
    "root": str, "log": str, "log-format": str, "criu": str, "rootless": str,
    "debug": bool, "systemd-cgroup": bool, "help": bool, "h": bool,
    "version": bool, "v": bool,
}


class Log:
    """Where runc's messages go: logrus's formats, to --log or stderr;
    level=debug lines only with --debug."""

    def __init__(self, path: str | None, fmt: str, debug: bool = False):
        self.path = path
        self.fmt = fmt if fmt in ("text", "json") else "text"
        self.debugging = debug

    def _line(self, level: str, msg: str) -> str:
        import time
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.fmt == "json":
            from busybox_engine.util import fastjson
            return fastjson.go_escape(fastjson.dumps({"level": level, "msg": msg, "time": t},
                                                     separators=(",", ":"), ensure_ascii=False)) + "\n"
        escaped = msg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'time="{t}" level={level} msg="{escaped}"\n'

    def write(self, level: str, msg: str) -> None:
        line = self._line(level, msg)
        if self.path:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
                try:
                    os.write(fd, line.encode())
                finally:
                    os.close(fd)
            except OSError:
                sys.stderr.write(line)
        else:
            sys.stderr.write(line)

    def error(self, msg: str) -> None:
        self.write("error", msg)
        if self.path:
            sys.stderr.write(msg + "\n")

    def warning(self, msg: str) -> None:
        self.write("warning", msg)

    def debug(self, msg: str) -> None:
        if self.debugging:
            self.write("debug", msg)


class Context:
    """What every command gets: global options and the logger."""

    def __init__(self, opts: dict, log: Log):
        self.root = os.path.abspath(opts.get("root") or DEFAULT_ROOT)
        self.log = log
        if opts.get("systemd-cgroup"):
            raise RuntimeFailure("--systemd-cgroup is not supported by this runtime")


def main(argv: list) -> int:
    """runc's command line; its exit status."""
    try:
        opts, rest = parse_flags(argv, GLOBAL_FLAGS)
    except UsageError as e:
        from busybox_engine.runtime.cli.usage import USAGE
        sys.stderr.write(f"Incorrect Usage. {e}\n\n")
        sys.stdout.write(USAGE)
        return 1
    if opts.get("version") or opts.get("v"):
        from busybox_engine.runtime.version import version_text
        sys.stdout.write(version_text())
        return 0
    if opts.get("help") or opts.get("h") or not rest:
        from busybox_engine.runtime.cli.usage import USAGE
        sys.stdout.write(USAGE)
        return 0
    command, args = rest[0], rest[1:]
    log = Log(opts.get("log"), opts.get("log-format", "text"), opts.get("debug", False))
    module_name = COMMANDS.get(command)
    if module_name is None:
        log.error(f"No help topic for '{command}'\n")
        return 3
    module = __import__(f"busybox_engine.runtime.cli.{module_name}", fromlist=["run"])
    aliases = getattr(module, "ALIASES", None) or {}
    try:
        if command not in NO_REORDER:
            from busybox_engine.runtime.cli.help import reorder
            args = reorder(args, module.FLAGS, aliases)
        cmd_opts, cmd_args = parse_flags(args, dict(module.FLAGS, help=bool, h=bool), aliases)
        if cmd_opts.get("help") or cmd_opts.get("h"):
            from busybox_engine.runtime.cli.help import text
            sys.stdout.write(text(command))
            return 0
        ctx = Context(opts, log)
        log.debug(f"runc {command}: root {ctx.root}")
        return module.run(ctx, cmd_opts, cmd_args, command)
    except UsageError as e:
        sys.stderr.write(f"Incorrect Usage: {e}\n")
        log.error(f"runc: {e}")
        return 1
    except RuntimeFailure as e:
        log.error(str(e))
        return 1
    except OSError as e:
        log.error(f"runc {command} failed: {describe(e)}")
        return 1
    except RecursionError:
        log.error(f"runc {command} failed: input nested too deeply")
        return 1
    except Exception as e:  # noqa: BLE001 - a bug is one line, never a traceback
        log.error(f"runc {command} failed: internal error: {type(e).__name__}: {e}")
        return 1


def describe(e: OSError) -> str:
    """`verb `object`: cause` for our syscall errors, path: cause for Python's."""
    msg = e.strerror or str(e)
    if e.filename:
        msg = f"{e.filename}: {msg}"
    return msg


def one_id(args: list, command: str) -> str:
    if len(args) != 1:
        raise UsageError(f'"{command}" requires exactly 1 argument(s)')
    return args[0]
