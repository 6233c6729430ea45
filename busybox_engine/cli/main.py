"""The docker client: global flags, then the command (`docker ps`, or
`docker container ls`), each parsed as the docker CLI parses it."""
import os
import sys

from busybox_engine.cli.api import API, DEFAULT_HOST, DaemonError, NoDaemon, StreamError
from busybox_engine.cli.flags import HelpRequested, ReportError, UsageError



_GLOBAL_VALUE = {"-H": "host", "--host": "host", "--config": "config", "-l": "log_level",
                 "--log-level": "log_level", "--context": "context", "-c": "context",
                 "--tlscacert": "tlscacert", "--tlscert": "tlscert", "--tlskey": "tlskey"}
_GLOBAL_BOOL = {"-D", "--debug", "--tls", "--tlsverify"}


class Context:
    def __init__(self, host: str, config_dir: str, tls: dict | None = None, opts: dict | None = None):
        self.host = host
        self.tls = tls
        self.opts = opts or {}
        self.config_dir = config_dir
        self._api = None
        self._config = None

    @property
    def api(self) -> API:
        if self._api is None:
            self._api = API(self.host, self.tls)
        return self._api

    @property
    def config(self) -> dict:
        if self._config is None:
            try:
                from busybox_engine.cli import fastjson
                with open(os.path.join(self.config_dir, "config.json"), "rb") as f:
                    self._config = fastjson.loads(f.read())
            except (OSError, ValueError):
                self._config = {}
        return self._config


def _globals(argv: list):
    opts = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        a = argv[i]
        i += 1
        if a == "--":
            break
        if a in ("-v", "--version"):
            opts["version"] = True
            continue
        if a in ("-h", "--help"):
            opts["help"] = True
            continue
        name, eq, value = a.partition("=")
        if name in _GLOBAL_VALUE:
            if not eq:
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: {name}" if name.startswith("--")
                                     else f"flag needs an argument: '{name[1]}' in {name}")
                value = argv[i]
                i += 1
            opts[_GLOBAL_VALUE[name]] = value
        elif name in _GLOBAL_BOOL:
            opts[name.lstrip("-")] = True
        elif a.startswith("--"):
            raise UsageError(f"unknown flag: {name}")
        else:
            raise UsageError(f"unknown shorthand flag: '{a[1]}' in {a}")
    return opts, argv[i:]


def _resolve(args: list):
    """(top-level command name, its arguments, the path shown in messages)."""
    from busybox_engine.cli.commands import COMMANDS, GROUPS
    name = args[0]
    if name in GROUPS and len(args) > 1 and args[1] in GROUPS[name]:
        return GROUPS[name][args[1]], args[2:], f"docker {name} {args[1]}"
    if name in COMMANDS:
        return name, args[1:], f"docker {name}"
    return None, args[1:], f"docker {name}"


def main(argv: list) -> int:
    try:
        opts, args = _globals(argv)
    except UsageError as e:
        sys.stderr.write(f"{e.message}\nSee 'docker --help'.\n")
        return 125
    if opts.get("version"):
        from busybox_engine import __version__
        from busybox_engine._build_info import BUILD_ID
        sys.stdout.write(f"Docker version {__version__}, build {BUILD_ID}\n")
        return 0
    if opts.get("help") or not args:
        from busybox_engine.cli.commands import top_usage
        sys.stdout.write(top_usage())
        return 0
    config_dir = opts.get("config") or os.environ.get("DOCKER_CONFIG") or os.path.join(
        os.path.expanduser("~"), ".docker")
    name, rest, path = _resolve(args)
    if name is None:
        from busybox_engine.cli.commands import GROUPS, group_usage
        if args[0] == "completion":
            sys.stdout.write(group_usage(args[0]))   # cobra's own command: stdout, never fails
            return 0
        if args[0] in GROUPS:
            if "--help" in args or "-h" in args:
                if "--help" not in args:
                    sys.stdout.write("Flag shorthand -h has been deprecated, please use --help\n")
                sys.stdout.write(group_usage(args[0]))
                return 0
            # cobra: the group's usage on stderr; an unknown subcommand fails
            sys.stderr.write(group_usage(args[0]))
            return 0 if len(args) == 1 else 1
        sys.stderr.write(f"docker: '{args[0]}' is not a docker command.\nSee 'docker --help'\n")
        return 1
    from importlib import import_module
    from busybox_engine.cli.commands import COMMANDS
    module = import_module(f"busybox_engine.cli.commands.{COMMANDS[name]}")
    spec, run = module.SPECS[name]
    words = path.split(" ")
    if len(words) == 3:
        # `docker container list` is `docker ps` by another path: the usage
        # line and aliases of its canonical name, as cobra shows them
        from busybox_engine.cli.commands import GROUPS, HELP_ALIASES
        canonical = next(s for s, n in GROUPS[words[1]].items() if n == name)
        path = f"docker {words[1]} {canonical}"
        extra = HELP_ALIASES.get((words[1], canonical))
        spec.aliases = (canonical, *extra) if extra else ()
    if spec.path != path:
        if spec.usage.startswith(spec.path):
            spec.usage = path + spec.usage[len(spec.path):]
        spec.path = path
    try:
        vals, cargs = spec.parse(rest)
    except HelpRequested as h:
        if h.short:
            sys.stdout.write("Flag shorthand -h has been deprecated, please use --help\n")
        sys.stdout.write(spec.help_text())
        return 0
    except UsageError as e:
        sys.stderr.write(e.message + "\n")
        if e.hint:
            sys.stderr.write(f"See '{path} --help'.\n")
        return e.status
    ctx = Context(DEFAULT_HOST, config_dir, opts=opts)
    if not name.startswith("context "):
        from busybox_engine.cli.contexts import ContextError, resolve
        try:
            ctx.host, ctx.tls = resolve(opts, ctx.config, config_dir)
        except ContextError as e:
            sys.stderr.write(f"{e}\n")
            return 1
    try:
        return run(ctx, vals, cargs)
    except ReportError as e:
        sys.stdout.flush()
        sys.stderr.write(f"docker: {e.message.rstrip('.')}.\nSee '{path} --help'.\n")
        return 125
    except UsageError as e:
        sys.stderr.write(e.message + "\n")
        if e.hint:
            sys.stderr.write(f"See '{path} --help'.\n")
        return e.status
    except NoDaemon as e:
        sys.stdout.flush()
        sys.stderr.write(f"{e}\n")
        return 1
    except DaemonError as e:
        sys.stdout.flush()
        sys.stderr.write(f"Error response from daemon: {e.message}\n")
        return 1
    except StreamError as e:      # an error inside a streamed answer (pull, push, load): as it is
        sys.stdout.flush()
        sys.stderr.write(f"{e}\n")
        return 1
    except BrokenPipeError:
        return 0
    finally:
        if ctx._api is not None:
            ctx._api.close()
