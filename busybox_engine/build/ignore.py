""".dockerignore: which files of a build context stay out of it, with the
docker CLI's rules (patterns cleaned, `**` for any depth, `!` to take a
file back, the last matching pattern decides, a match of a directory
covering what is in it)."""
import posixpath
import re


def read_patterns(text: str) -> list:
    out = []
    for line in text.splitlines():
        p = line.strip()
        if not p or p.startswith("#"):
            continue
        neg = p.startswith("!")
        if neg:
            p = p[1:].strip()
        if not p:
            continue
        p = posixpath.normpath(p)
        if len(p) > 1 and p.startswith("/"):
            p = p.lstrip("/") or "/"
        out.append((neg, p, _regex(p)))
    return out


def _regex(pattern: str):
    out, i = "^", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i:i + 2] == "**":
                i += 2
                if pattern[i:i + 1] == "/":
                    i += 1
                    out += "(.*/)?"      # any number of directories, none included
                else:
                    out += ".*"
                continue
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = pattern.find("]", i)
            if end < 0:
                out += re.escape(ch)
            else:
                body = pattern[i + 1:end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out += "[" + body.replace("\\", "\\\\") + "]"
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


def _matches(rx, path: str) -> bool:
    """The path, or one of its parent directories, matches."""
    if rx.match(path):
        return True
    parts = path.split("/")
    return any(rx.match("/".join(parts[:n])) for n in range(1, len(parts)))


def excluded(patterns: list, path: str) -> bool:
    """Whether a path (relative to the context, / separated) is left out."""
    out = False
    for neg, _p, rx in patterns:
        if _matches(rx, path):
            out = not neg
    return out


def has_exceptions(patterns: list) -> bool:
    return any(neg for neg, _p, _rx in patterns)
