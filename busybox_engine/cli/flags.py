"""Command-line flags as the docker CLI parses them (spf13/pflag, cobra).

`-it` is `-i -t`; `-uroot` and `-u root` and `-u=root`; `--name x` and
`--name=x`; a flag given twice appends when it is a list (`-e`, `-v`),
else the last one wins; `--` ends the flags; commands that take a command
of their own (`run IMAGE CMD...`, `exec`) stop at the first positional.
Errors are pflag's sentences; the command adds Docker's hint and exit
code 125 (see UsageError).
"""
from busybox_engine.util.timefmt import parse_duration

__all__ = ["Flag", "FlagSet", "UsageError", "Command", "parse_duration"]


class UsageError(Exception):
    """A bad command line: message, then `See 'docker CMD --help'.`"""

    def __init__(self, message: str, status: int = 125, hint: bool = True):
        super().__init__(message)
        self.message = message
        self.status = status
        self.hint = hint


class ReportError(UsageError):
    """A bad option found after parsing: `docker: MSG.` then the hint, 125."""

    def __init__(self, message: str):
        super().__init__(message)


# --- value kinds: (type name shown in --help, converter raising ValueError(pflag's text)) ---

def _parse_int(v: str) -> int:
    import re
    try:
        return int(v, 0) if re.fullmatch(r"[+-]?0[xXoObB][0-9a-fA-F_]+", v) else int(v, 10)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{v}": invalid syntax') from None


def _parse_uint(v: str) -> int:
    n = None
    if v and v.isascii() and v.isdigit():
        n = int(v)
    if n is None:
        raise ValueError(f'strconv.ParseUint: parsing "{v}": invalid syntax')
    return n


def _parse_uint16(v: str) -> int:
    n = _parse_uint(v)
    if n > 0xFFFF:
        raise ValueError(f'strconv.ParseUint: parsing "{v}": value out of range')
    return n


def _parse_float(v: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{v}": invalid syntax') from None


def _parse_bool(v: str) -> bool:
    if v in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if v in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{v}": invalid syntax')


_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4, "p": 1024 ** 5}


def parse_bytes(v: str) -> int:
    """Docker's RAMInBytes: 8m, 1.5g, 512k, 100 (bytes); binary units."""
    import re
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kKmMgGtTpP]?)[iI]?[bB]?", v.strip())
    if not m:
        raise ValueError(f"invalid size: '{v}'")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])



def _parse_swap(v: str) -> int:
    """--memory-swap: bytes, or -1 for unlimited swap."""
    return -1 if v == "-1" else parse_bytes(v)


def _parse_decimal(v: str) -> int:
    """--cpus: a decimal number of CPUs, kept as nano CPUs."""
    try:
        f = float(v)
    except ValueError:
        raise ValueError(f'failed to parse {v} as a rational number') from None
    return int(round(f * 1e9))


KINDS = {
    "bool": ("", _parse_bool),
    "string": ("string", str),
    "int": ("int", _parse_int),
    "uint": ("uint", _parse_uint),
    "uint16": ("uint16", _parse_uint16),
    "swapbytes": ("bytes", _parse_swap),
    "float": ("float", _parse_float),
    "list": ("list", str),           # repeated: each occurrence appended
    "filter": ("filter", str),       # -f key=value, repeated
    "stringSlice": ("strings", str),  # repeated, and comma-separated
    "bytes": ("bytes", parse_bytes),
    "duration": ("duration", parse_duration),
    "decimal": ("decimal", _parse_decimal),
}


class Flag:
    __slots__ = ("name", "short", "kind", "default", "help", "hidden", "dest", "shown_default", "tname", "check")

    def __init__(self, name: str, kind: str = "bool", short: str = "", default=None, help: str = "",
                 hidden: bool = False, shown_default: str | None = None, tname: str | None = None,
                 check=None):
        """tname: the type --help shows where Docker's differs from the
        kind's (a list shown as "map"); check(value) raises ValueError with
        Docker's text for a bad value of a repeated flag, when it is set."""
        if kind not in KINDS:
            raise ValueError(f"unknown flag kind {kind}")
        self.name = name
        self.short = short
        self.kind = kind
        if default is None:
            default = {"bool": False, "list": [], "stringSlice": [], "filter": []}.get(kind, None)
            if kind in ("int", "uint", "uint16", "bytes", "swapbytes", "decimal"):
                default = 0
            elif kind == "float" or kind == "duration":
                default = 0.0 if kind == "float" else 0.0
            elif kind == "string":
                default = ""
        self.default = default
        self.help = help
        self.hidden = hidden
        self.dest = name.replace("-", "_")
        self.shown_default = shown_default
        self.tname = KINDS[kind][0] if tname is None else tname
        self.check = check

    @property
    def repeated(self) -> bool:
        return self.kind in ("list", "stringSlice", "filter")

    def label(self) -> str:
        return f"-{self.short}, --{self.name}" if self.short else f"--{self.name}"

    def convert(self, raw: str):
        try:
            return KINDS[self.kind][1](raw)
        except ValueError as e:
            raise UsageError(f'invalid argument "{raw}" for "{self.label()}" flag: {e}') from None


def kv_map(items: list) -> dict:
    """key=value flags (--label, --opt, --log-opt) as a map; a bare key is ""."""
    out = {}
    for it in items:
        k, _, v = it.partition("=")
        out[k] = v
    return out


class Values(dict):
    """Parsed flags by their dest name (`--cpu-shares` -> cpu_shares), and
    which of them the command line set."""

    def __init__(self):
        super().__init__()
        self.given = set()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class FlagSet:
    def __init__(self, flags=(), interspersed: bool = True):
        self.flags = []
        self.by_name = {}
        self.by_short = {}
        self.interspersed = interspersed
        for f in flags:
            self.add(f)

    def add(self, flag: Flag) -> None:
        self.flags.append(flag)
        self.by_name[flag.name] = flag
        if flag.short:
            self.by_short[flag.short] = flag

    def parse(self, argv: list):
        """(Values, positional arguments); UsageError for a bad line."""
        vals = Values()
        for f in self.flags:
            vals[f.dest] = list(f.default) if f.repeated else f.default
        args = []
        i = 0
        while i < len(argv):
            a = argv[i]
            i += 1
            if a == "--":
                args.extend(argv[i:])
                break
            if a.startswith("--") and len(a) > 2:
                name, eq, value = a[2:].partition("=")
                f = self.by_name.get(name)
                if f is None:
                    if name in ("help",):
                        raise HelpRequested()
                    raise UsageError(f"unknown flag: --{name}")
                if not eq and f.kind != "bool":
                    if i >= len(argv):
                        raise UsageError(f"flag needs an argument: --{name}")
                    value = argv[i]
                    i += 1
                self._set(vals, f, value if (eq or f.kind != "bool") else "true")
            elif a.startswith("-") and len(a) > 1:
                j = 1
                while j < len(a):
                    c = a[j]
                    f = self.by_short.get(c)
                    if f is None:
                        if c == "h":
                            raise HelpRequested(short=True)
                        raise UsageError(f"unknown shorthand flag: '{c}' in {a}")
                    rest = a[j + 1:]
                    if f.kind == "bool":
                        if rest.startswith("="):
                            self._set(vals, f, rest[1:])
                            break
                        self._set(vals, f, "true")
                        j += 1
                        continue
                    if rest.startswith("="):
                        value = rest[1:]
                    elif rest:
                        value = rest
                    elif i < len(argv):
                        value = argv[i]
                        i += 1
                    else:
                        raise UsageError(f"flag needs an argument: '{c}' in -{c}")
                    self._set(vals, f, value)
                    break
            else:
                args.append(a)
                if not self.interspersed:
                    args.extend(argv[i:])
                    break
        return vals, args

    def _set(self, vals: Values, f: Flag, raw: str) -> None:
        vals.given.add(f.dest)
        if f.kind == "stringSlice":
            vals[f.dest].extend(x for x in raw.split(",") if x != "" or raw == "")
        elif f.kind == "filter":
            if "=" not in raw:
                raise UsageError(f'invalid argument "{raw}" for "{f.label()}" flag: '
                                 "bad format of filter (expected name=value)")
            vals[f.dest].append(raw)
        elif f.kind == "list":
            if f.check is not None:
                try:
                    f.check(raw)
                except ValueError as e:
                    raise UsageError(f'invalid argument "{raw}" for "{f.label()}" flag: {e}') from None
            vals[f.dest].append(raw)
        else:
            vals[f.dest] = f.convert(raw)
            if f.name == "help" and vals[f.dest] is True:
                raise HelpRequested()   # listed where -h means something else (run -h HOSTNAME)

    def usages(self, cols: int = 79) -> str:
        """The Options: block as pflag's FlagUsagesWrapped lays it out (the
        docker CLI wraps at 80 columns less one)."""
        rows = []
        for f in self.flags:
            if f.hidden:
                continue
            left = f"  -{f.short}, --{f.name}" if f.short else f"      --{f.name}"
            tname = f.tname
            if tname:
                left += " " + tname
            text = f.help
            shown = f.shown_default
            if shown is None:
                if f.kind == "bool":
                    shown = "true" if f.default else ""
                elif f.kind == "string":
                    shown = f'"{f.default}"' if f.default else ""
                elif f.kind in ("int", "uint", "uint16", "float"):
                    shown = str(f.default) if f.default else ""
                elif f.kind == "duration":
                    shown = _go_duration(f.default) if f.default else ""
                else:
                    shown = ""
            if shown:
                text += f" (default {shown})"
            rows.append((left, text))
        width = max((len(left) for left, _ in rows), default=0)
        return "\n".join(f"{left.ljust(width)}   {_wrap(width + 3, cols, text)}".rstrip() for left, text in rows)


def _wrap_n(i: int, slop: int, s: str) -> tuple:
    if i + slop > len(s):
        return s, ""
    w = max(s.rfind(" ", 0, i), s.rfind("\t", 0, i), s.rfind("\n", 0, i))
    if w <= 0:
        return s, ""
    nl = s.rfind("\n", 0, i)
    if 0 < nl < w:
        return s[:nl], s[nl + 1:]
    return s[:w], s[w + 1:]


def _wrap(i: int, w: int, s: str) -> str:
    """pflag's wrap: text from column i, lines up to w wide, a little slop
    to spare a short last word its own line."""
    r = ""
    width = w - i
    if width < 24:
        i = 16
        width = w - i
        r += "\n" + " " * i
    if width < 24:
        return s.replace("\n", r)
    slop = 5
    width -= slop
    line, s = _wrap_n(width, slop, s)
    r += line.replace("\n", "\n" + " " * i)
    while s:
        line, s = _wrap_n(width, slop, s)
        r += "\n" + " " * i + line.replace("\n", "\n" + " " * i)
    return r


def _go_duration(seconds: float) -> str:
    if seconds == int(seconds):
        s = int(seconds)
        h, rem = divmod(s, 3600)
        m, s = divmod(rem, 60)
        out = (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s}s"
        return out
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


class HelpRequested(Exception):
    def __init__(self, short: bool = False):
        super().__init__("help")
        self.short = short   # -h: cobra says it is deprecated first


class Command:
    """A docker command: its flags, usage line, description and the number
    of arguments it takes (cobra's Args checks, with Docker's words)."""

    def __init__(self, path: str, usage: str, short: str, flags=(), min_args: int = 0,
                 max_args: int | None = None, exact_args: int | None = None, interspersed: bool = True,
                 aliases: tuple = (), long: str = "", examples: str = ""):
        self.path = path            # "docker stop"
        self.usage = usage          # "docker stop [OPTIONS] CONTAINER [CONTAINER...]"
        self.short = short
        self.flags = FlagSet(flags, interspersed=interspersed)
        self.min_args = min_args
        self.max_args = max_args
        self.exact_args = exact_args
        self.aliases = aliases
        self.long = long            # --help's text where Docker's differs from short
        self.examples = examples

    def help_text(self) -> str:
        out = f"\nUsage:  {self.usage}\n\n{self.long or self.short}\n"
        if self.aliases:
            out += "\nAliases:\n  " + ", ".join(self.aliases) + "\n"
        if self.examples:
            out += f"\nExamples:\n{self.examples}\n"
        usages = self.flags.usages()
        if usages:
            out += f"\nOptions:\n{usages}\n"
        return out

    def parse(self, argv: list):
        vals, args = self.flags.parse(argv)
        n = len(args)
        if self.exact_args is not None and n != self.exact_args:
            raise self._args_error(f"exactly {self.exact_args} {_plural('argument', self.exact_args)}")
        if n < self.min_args:
            raise self._args_error(f"at least {self.min_args} {_plural('argument', self.min_args)}")
        if self.max_args is not None and n > self.max_args:
            if self.max_args == 0:
                raise self._args_error("no arguments", verb="accepts")
            raise self._args_error(f"at most {self.max_args} {_plural('argument', self.max_args)}",
                                   verb="accepts")
        return vals, args

    def _args_error(self, what: str, verb: str = "requires") -> UsageError:
        msg = (f'"{self.path}" {verb} {what}.\nSee \'{self.path} --help\'.\n\n'
               f"Usage:  {self.usage}\n\n{self.short}")
        return UsageError(msg, status=1, hint=False)


def _plural(word: str, n: int) -> str:
    return word if n == 1 else word + "s"
