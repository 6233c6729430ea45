"""A Dockerfile as a list of instructions, parsed as Docker's parser does:
parser directives (escape) at the top, comments, line continuations with
the escape character, leading --flags, and JSON (exec) or shell form."""
import json
import re

from busybox_engine.build.words import split_keep_quotes

INSTRUCTIONS = ("add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label",
                "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir")
# instructions whose arguments may be a JSON array
JSON_FORM = ("run", "cmd", "entrypoint", "shell", "add", "copy", "volume")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")


class ParseError(ValueError):
    pass


class Instruction:
    """One instruction: its keyword (lower case), its --flags, the text
    after them, its JSON array (exec form) if it has one, and its text as
    written (continuations joined)."""
    __slots__ = ("cmd", "flags", "rest", "json", "original", "line")

    def __init__(self, cmd: str, flags: dict, rest: str, json_args, original: str, line: int):
        self.cmd, self.flags, self.rest, self.json = cmd, flags, rest, json_args
        self.original, self.line = original, line

    def __repr__(self) -> str:
        return f"Instruction({self.original!r})"


class Dockerfile:
    def __init__(self, instructions: list, escape: str):
        self.instructions = instructions
        self.escape = escape


def _directives(lines: list) -> tuple:
    """(escape character, index of the first line after the directives)"""
    escape, i = "\\", 0
    seen = set()
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i].strip())
        if not m:
            break
        name, value = m.group(1).lower(), m.group(2)
        if name in seen:
            raise ParseError(f"only one {name} parser directive can be used")
        seen.add(name)
        if name == "escape":
            if value not in ("`", "\\"):
                raise ParseError(f"invalid escape token '{value}' does not match ` or \\")
            escape = value
        i += 1
    return escape, i


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _continued(line: str, escape: str) -> tuple:
    """(the line without a trailing escape character, whether it ends the
    instruction)"""
    stripped = line.rstrip(" \t\r")
    if stripped.endswith(escape):
        return stripped[:-1], False
    return line, True


def parse(text: str) -> Dockerfile:
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    escape, i = _directives(lines)
    out = []
    while i < len(lines):
        first = i + 1
        raw = lines[i].lstrip()
        i += 1
        if not raw.strip() or _is_comment(raw):
            continue
        line, done = _continued(raw, escape)
        while not done and i < len(lines):
            nxt = lines[i]
            i += 1
            if _is_comment(nxt) or not nxt.strip():
                continue
            part, done = _continued(nxt, escape)
            line += part
        out.append(_instruction(line.strip(), first, escape))
    return Dockerfile(out, escape)


def _instruction(line: str, lineno: int, escape: str) -> Instruction:
    parts = re.split(r"\s+", line, maxsplit=1)
    cmd = parts[0].lower()
    if cmd not in INSTRUCTIONS:
        raise ParseError(f"dockerfile parse error line {lineno}: unknown instruction: {parts[0].upper()}")
    rest = parts[1] if len(parts) > 1 else ""
    flags, rest = _flags(rest, cmd, lineno)
    json_args = None
    if cmd in JSON_FORM and rest.startswith("["):
        try:
            value = json.loads(rest)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                json_args = value
        except ValueError:
            pass
    return Instruction(cmd, flags, rest, json_args, line, lineno)


def _flags(rest: str, cmd: str, lineno: int) -> tuple:
    """Leading --name=value words ({name: [values]}), and the text after."""
    flags = {}
    while rest.startswith("--"):
        m = re.match(r"(\S+)\s*", rest)
        word = m.group(1)
        if word == "--":
            rest = rest[m.end():]
            break
        # a flag's value may be quoted and hold white space
        words = split_keep_quotes(rest)
        word = words[0] if words else word
        name, eq, value = word[2:].partition("=")
        if not name:
            raise ParseError(f"dockerfile parse error line {lineno}: {cmd.upper()}: empty flag name")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        flags.setdefault(name, []).append(value if eq else "")
        rest = rest[len(word):].lstrip()
    return flags, rest


def stages(df: Dockerfile) -> tuple:
    """(the ARGs before the first FROM, [[FROM, ...instructions] per
    stage])"""
    meta, out = [], []
    for ins in df.instructions:
        if ins.cmd == "from":
            out.append([ins])
        elif out:
            out[-1].append(ins)
        elif ins.cmd == "arg":
            meta.append(ins)
        else:
            raise ParseError("no build stage in current context")
    if not out:
        raise ParseError("no build stage in current context")
    return meta, out
