"""The daemon's JSON re-indented as Go's json.MarshalIndent(raw, "", "    ")
writes it (`docker inspect`): strings kept as sent but for <, >, & and
U+2028/9, which Go escapes; empty [] and {} stay compact."""
from busybox_engine.util.fastjson import go_escape

_TOKEN = r'\s*("(?:[^"\\]|\\.)*"|[\[\]{}:,]|[^\s\[\]{}:,"]+)'


def indent(raw: str, prefix: str = "    ") -> str:
    out = []
    depth = 0
    import re
    toks = re.findall(_TOKEN, raw, re.S)
    n = len(toks)
    i = 0
    while i < n:
        t = toks[i]
        if t in "[{":
            if i + 1 < n and toks[i + 1] == ("]" if t == "[" else "}"):
                out.append(t + toks[i + 1])
                i += 2
                continue
            depth += 1
            out.append(t + "\n" + prefix * depth)
        elif t in "]}":
            depth -= 1
            out.append("\n" + prefix * depth + t)
        elif t == ",":
            out.append(",\n" + prefix * depth)
        elif t == ":":
            out.append(": ")
        elif t.startswith('"'):
            out.append(go_escape(t))
        else:
            out.append(t)
        i += 1
    return "".join(out)


def indent_list(raws: list) -> str:
    """Several raw documents as one indented JSON array."""
    if not raws:
        return "[]"
    return indent("[" + ",".join(raws) + "]")
