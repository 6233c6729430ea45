"""What each Dockerfile instruction does to a stage's image config: the
metadata instructions applied here (pure, unit-tested), and the arguments
of RUN, COPY and ADD worked out for the builder that runs them."""
import json
import posixpath

from busybox_engine.build import words as W
from busybox_engine.build.dockerfile import Instruction, ParseError

DEFAULT_SHELL = ["/bin/sh", "-c"]
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# build args usable without an ARG line, as Docker's (kept out of history)
BUILTIN_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
_HEALTH_FLAGS = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod"}


class BuildError(Exception):
    """A step that cannot be done: its message is what the user sees."""


class Stage:
    """A build stage's state: its image config, its ARGs, and what it set."""

    def __init__(self, config: dict, escape: str, build_args: dict, meta_args: dict):
        self.config = config
        self.config["Env"] = list(config.get("Env") or [])
        self.escape = escape
        self.build_args = build_args      # --build-arg, name -> value (None: from the environment, unset)
        self.meta_args = meta_args        # ARGs before the first FROM with their values
        self.args = {}                    # this stage's ARGs with their values (None: no value)
        self.used_args = set()
        self.cmd_set = False
        self.author = ""

    def env_map(self) -> dict:
        """What $VAR expands to: the stage's ARGs, then its ENV over them."""
        out = {k: v for k, v in self.args.items() if v is not None}
        for e in self.config["Env"]:
            k, _, v = e.partition("=")
            out[k] = v
        return out

    def word(self, text: str) -> str:
        try:
            return W.word(text, self.env_map(), self.escape)
        except W.WordError as e:
            raise BuildError(str(e)) from None

    def words(self, text: str) -> list:
        try:
            return W.words(text, self.env_map(), self.escape)
        except W.WordError as e:
            raise BuildError(str(e)) from None

    def shell(self) -> list:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def run_args(self) -> dict:
        """The ARGs a RUN sees in its environment (those with values that no
        ENV of the same name overrides)."""
        env_names = {e.partition("=")[0] for e in self.config["Env"]}
        return {k: v for k, v in self.args.items() if v is not None and k not in env_names}


def go_quote_list(xs: list) -> str:
    """A []string as Go's %q prints it."""
    return "[" + " ".join(json.dumps(x, ensure_ascii=False) for x in xs) + "]"


def _name_values(ins: Instruction, st: Stage, what: str) -> list:
    """ENV/LABEL arguments as (name, value) pairs: `name=value ...`, or the
    old `name value` form."""
    parts = W.split_keep_quotes(ins.rest, st.escape)
    if not parts:
        raise BuildError(f"{what} requires at least one argument" if what == "LABEL"
                         else f"{what} must have two arguments")
    if "=" not in parts[0]:
        if len(parts) < 2:
            raise BuildError(f"{what} must have two arguments")
        name = parts[0]
        value = ins.rest[len(name):].strip()
        return [(st.word(name), st.word(value))]
    out = []
    for p in parts:
        if "=" not in p:
            raise BuildError(f"Syntax error - can't find = in {p!r}. Must be of the form: name=value")
        k, _, v = p.partition("=")
        k = st.word(k)
        if not k:
            raise BuildError(f"{what} names can not be blank")
        out.append((k, st.word(v)))
    return out


def set_env(env: list, name: str, value: str) -> list:
    return [e for e in env if e.partition("=")[0] != name] + [f"{name}={value}"]


def _cmd_args(ins: Instruction, st: Stage) -> list:
    if ins.json is not None:
        return list(ins.json)
    return st.shell() + [ins.rest]


def _expose(ports: list) -> list:
    out = []
    for p in ports:
        num, _, proto = p.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise BuildError(f"invalid proto: {proto}")
        lo, dash, hi = num.partition("-")
        try:
            start, end = int(lo), int(hi) if dash else int(lo)
        except ValueError:
            raise BuildError(f"invalid containerPort: {num}") from None
        if not (0 <= start <= 65535 and start <= end <= 65535):
            raise BuildError(f"invalid range: {num}")
        out += [f"{n}/{proto}" for n in range(start, end + 1)]
    return out


def _duration(text: str, flag: str) -> int:
    """A Go duration ("30s", "1m30s", "500ms") as nanoseconds."""
    from busybox_engine.util.timefmt import parse_duration
    try:
        ns = int(parse_duration(text) * 1e9)
    except ValueError as e:
        raise BuildError(str(e)) from None
    if ns < 0:
        raise BuildError(f"Interval \"{flag}\" cannot be less than 0s" if flag == "interval"
                         else f"{flag} cannot be negative")
    return ns


def _healthcheck(ins: Instruction, st: Stage) -> dict:
    head, _, rest = ins.rest.partition(" ")
    kind = head.upper()
    if kind == "NONE":
        if rest.strip() or ins.flags:
            raise BuildError("HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    if kind != "CMD":
        raise BuildError(f"Unknown type \"{head}\" in HEALTHCHECK (try CMD)")
    rest = rest.strip()
    if not rest:
        raise BuildError("Missing command after HEALTHCHECK CMD")
    try:
        value = json.loads(rest) if rest.startswith("[") else None
    except ValueError:
        value = None
    test = (["CMD"] + value) if isinstance(value, list) and all(isinstance(x, str) for x in value) \
        else ["CMD-SHELL", rest]
    out = {"Test": test}
    for name, values in ins.flags.items():
        if name in _HEALTH_FLAGS:
            out[_HEALTH_FLAGS[name]] = _duration(values[-1], name)
        elif name == "retries":
            try:
                out["Retries"] = int(values[-1])
            except ValueError:
                raise BuildError(f"strconv.ParseInt: parsing \"{values[-1]}\": invalid syntax") from None
            if out["Retries"] < 0:
                raise BuildError("--retries cannot be negative")
        else:
            raise BuildError(f"Unknown flag: {name}")
    return out


def check_flags(ins: Instruction, allowed: tuple) -> None:
    for name in ins.flags:
        if name not in allowed:
            raise BuildError(f"Unknown flag: {name}")


def apply(st: Stage, ins: Instruction) -> str:
    """Apply a metadata instruction to the stage; the comment its history
    entry carries (after "#(nop) ")."""
    c, cfg = ins.cmd, st.config
    if c == "healthcheck":
        cfg["Healthcheck"] = _healthcheck(ins, st)
        return f"HEALTHCHECK &{{{go_quote_list(cfg['Healthcheck']['Test'])} ...}}"
    check_flags(ins, ())
    if c == "env":
        pairs = _name_values(ins, st, "ENV")
        for k, v in pairs:
            cfg["Env"] = set_env(cfg["Env"], k, v)
        return "ENV " + " ".join(f"{k}={v}" for k, v in pairs)
    if c == "label":
        pairs = _name_values(ins, st, "LABEL")
        labels = dict(cfg.get("Labels") or {})
        for k, v in pairs:
            labels[k] = v
        cfg["Labels"] = labels
        return "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)
    if c == "maintainer":
        st.author = st.word(ins.rest)
        return f"MAINTAINER {st.author}"
    if c == "expose":
        ports = _expose(st.words(ins.rest))
        if not ports:
            raise BuildError("EXPOSE requires at least one argument")
        exposed = dict(cfg.get("ExposedPorts") or {})
        for p in ports:
            exposed[p] = {}
        cfg["ExposedPorts"] = exposed
        return "EXPOSE " + " ".join(sorted(exposed))
    if c == "volume":
        vols = [st.word(v) for v in ins.json] if ins.json is not None else st.words(ins.rest)
        if not vols:
            raise BuildError("VOLUME requires at least one argument")
        volumes = dict(cfg.get("Volumes") or {})
        for v in vols:
            if not v.strip():
                raise BuildError("VOLUME specified can not be an empty string")
            volumes[v] = {}
        cfg["Volumes"] = volumes
        return "VOLUME [" + " ".join(vols) + "]"
    if c == "user":
        user = st.word(ins.rest)
        if not user:
            raise BuildError("USER requires exactly one argument")
        cfg["User"] = user
        return f"USER {user}"
    if c == "workdir":
        path = st.word(ins.rest)
        if not path:
            raise BuildError("WORKDIR requires exactly one argument")
        cfg["WorkingDir"] = posixpath.normpath(posixpath.join(cfg.get("WorkingDir") or "/", path))
        return f"WORKDIR {cfg['WorkingDir']}"
    if c == "stopsignal":
        sig = st.word(ins.rest)
        from busybox_engine.util.signals import parse_signal
        try:
            parse_signal(sig)
        except ValueError:
            raise BuildError(f"Invalid signal: {sig}") from None
        cfg["StopSignal"] = sig
        return f"STOPSIGNAL {sig}"
    if c == "cmd":
        cfg["Cmd"] = _cmd_args(ins, st)
        st.cmd_set = True
        return f"CMD {go_quote_list(cfg['Cmd'])}"
    if c == "entrypoint":
        cfg["Entrypoint"] = _cmd_args(ins, st) if (ins.json is not None or ins.rest) else None
        if not st.cmd_set:
            cfg["Cmd"] = None
        return f"ENTRYPOINT {go_quote_list(cfg['Entrypoint'] or [])}"
    if c == "shell":
        if ins.json is None:
            raise BuildError("SHELL requires the arguments to be in JSON form")
        if not ins.json:
            raise BuildError("SHELL requires at least one argument")
        cfg["Shell"] = list(ins.json)
        return "SHELL [" + " ".join(ins.json) + "]"
    if c == "onbuild":
        trigger = ins.rest.strip()
        word = trigger.split(None, 1)[0].upper() if trigger else ""
        if word in ("ONBUILD", "FROM", "MAINTAINER"):
            raise BuildError(f"{word} isn't allowed as an ONBUILD trigger" if word != "ONBUILD"
                             else "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if not trigger:
            raise BuildError("ONBUILD requires at least one argument")
        cfg["OnBuild"] = list(cfg.get("OnBuild") or []) + [trigger]
        return f"ONBUILD {trigger}"
    if c == "arg":
        return declare_args(st, ins)
    raise BuildError(f"{c.upper()} is not a metadata instruction")


def declare_args(st: Stage, ins: Instruction) -> str:
    """ARG name[=default] ...: the value a --build-arg gives, else the
    default (expanded), else a meta ARG's of the same name."""
    parts = W.split_keep_quotes(ins.rest, st.escape)
    if not parts:
        raise BuildError("ARG requires at least one argument")
    shown = []
    for p in parts:
        name, eq, default = p.partition("=")
        if not name:
            raise BuildError("ARG names can not be blank")
        value = st.word(default) if eq else None
        if value is None and name in st.meta_args:
            value = st.meta_args[name]
        if name in st.build_args and st.build_args[name] is not None:
            value = st.build_args[name]
        st.args[name] = value
        st.used_args.add(name)
        shown.append(f"{name}={st.word(default)}" if eq else name)
    return "ARG " + " ".join(shown)


def meta_args(instructions: list, build_args: dict, escape: str) -> dict:
    """The ARGs before the first FROM, with their values: what FROM lines
    expand with."""
    st = Stage({}, escape, build_args, {})
    for ins in instructions:
        declare_args(st, ins)
    return {k: v for k, v in st.args.items()}


def run_command(st: Stage, ins: Instruction) -> tuple:
    """(the command a RUN runs, its history line with the build args it
    saw: "|2 A=1 B=2 /bin/sh -c ...")"""
    check_flags(ins, ())
    if ins.json is None and not ins.rest.strip():
        raise BuildError("RUN requires at least one argument")
    cmd = _cmd_args(ins, st)
    args = st.run_args()
    shown = [f"{k}={v}" for k, v in sorted(args.items()) if k not in BUILTIN_ARGS]
    prefix = [f"|{len(shown)}"] + shown if shown else []
    return cmd, prefix + cmd


def copy_args(st: Stage, ins: Instruction) -> tuple:
    """(sources, destination, --chown, --from) of COPY/ADD, expanded."""
    check_flags(ins, ("chown", "from", "chmod") if ins.cmd == "copy" else ("chown", "chmod"))
    if "chmod" in ins.flags:
        raise BuildError("the --chmod option requires BuildKit. Refer to "
                         "https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled")
    items = [st.word(x) for x in ins.json] if ins.json is not None else st.words(ins.rest)
    if len(items) < 2:
        raise BuildError(f"{ins.cmd.upper()} requires at least two arguments, but only one was provided. "
                         "Destination could not be determined.")
    chown = st.word(ins.flags["chown"][-1]) if "chown" in ins.flags else ""
    source = st.word(ins.flags["from"][-1]) if "from" in ins.flags else ""
    return items[:-1], items[-1], chown, source


def onbuild_instructions(triggers: list, escape: str) -> list:
    """An image's ONBUILD triggers as instructions to run after FROM."""
    from busybox_engine.build.dockerfile import parse
    out = []
    for t in triggers:
        try:
            out += parse(t).instructions
        except ParseError as e:
            raise BuildError(str(e)) from None
    return out
