"""Go's text/template, the part `docker --format` users write.

Actions `{{.A.B}}`, `{{$v := ...}}`, pipelines with `|`, `if`/`else if`/
`else`, `range` (with `$i, $e :=` and `else`), `with`, `break`/`continue`,
`{{- trim -}}`, comments, and the functions of Go's templates plus those
the docker CLI adds (json, split, join, title, lower, upper, pad, truncate).
Values print as Go's fmt %v prints them (maps as map[k:v], lists as [a b],
nil as <nil>, a missing map key as <no value>).

Data is what json.loads gives (dicts, lists, str, int, float, bool, None)
or objects whose attributes or methods the template names (the `ps`
table's rows): an attribute that is callable is called with the
arguments the template gives it.
"""
import json
import re

from busybox_engine.cli.goformat import NO_VALUE, TemplateError, _go_float, _go_type, field_chain, go_str

__all__ = ["Template", "TemplateError", "parse", "render"]


# --- lexing -----------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<pipe>\|)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\\n]|\\.)+')
  | (?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?))
  | (?P<variable>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)


def _unquote(tok: str) -> str:
    body = tok[1:-1]
    if tok[0] == "`":
        return body
    try:
        return json.loads('"' + re.sub(r"\\x([0-9a-fA-F]{2})", r"\\u00\1", body.replace("\\'", "'")) + '"')
    except ValueError:
        raise TemplateError(f"malformed string {tok}") from None


def _split(src: str, name: str):
    """Text and action pieces: ('text', str) and ('action', str, line)."""
    out = []
    i = 0
    line = 1
    while True:
        j = src.find("{{", i)
        if j < 0:
            out.append(("text", src[i:]))
            return out
        text = src[i:j]
        k = j + 2
        trim_left = src.startswith("- ", k) or src.startswith("-\t", k) or src.startswith("-\n", k)
        if trim_left:
            text = text.rstrip(" \t\r\n")
            k += 2
        out.append(("text", text))
        line += src.count("\n", i, j)
        if src.startswith("/*", k):
            end = src.find("*/", k)
            if end < 0:
                raise TemplateError(f"template: {name}:{line}: unclosed comment")
            close = src.find("}}", end)
            if close < 0:
                raise TemplateError(f"template: {name}:{line}: unclosed action")
            trim_right = src[end + 2:close].strip() == "-"
            i = close + 2
            if trim_right:
                while i < len(src) and src[i] in " \t\r\n":
                    i += 1
            continue
        # find the closing }} outside strings
        m = k
        in_str = None
        while m < len(src):
            c = src[m]
            if in_str:
                if c == "\\" and in_str != "`":
                    m += 2
                    continue
                if c == in_str:
                    in_str = None
                elif c == "\n" and in_str != "`":
                    raise TemplateError(f"template: {name}:{line}: unterminated quoted string")
            elif c in "\"`'":
                in_str = c
            elif src.startswith("}}", m):
                break
            m += 1
        else:
            if in_str:
                what = {'"': "quoted string", "`": "raw quoted string", "'": "character constant"}[in_str]
                raise TemplateError(f"template: {name}:{line}: unterminated {what}")
            raise TemplateError(f"template: {name}:{line}: unclosed action")
        body = src[k:m]
        trim_right = body.endswith(" -") or body.endswith("\t-") or body.endswith("\n-")
        if trim_right:
            body = body[:-1]
        out.append(("action", body, line))
        line += src.count("\n", j, m)
        i = m + 2
        if trim_right:
            while i < len(src) and src[i] in " \t\r\n":
                i += 1


def _lex(body: str, name: str, line: int) -> list:
    toks = []
    pos = 0
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if not m:
            raise TemplateError(f"template: {name}:{line}: unexpected {body[pos]!r} in command")
        kind = m.lastgroup
        text = m.group()
        pos = m.end()
        if kind == "space":
            continue
        # a field chain right after ) or a variable: (x).A, $v.A
        if kind == "field" and toks and toks[-1][0] in ("rparen",) and body[m.start() - 1] == ")":
            toks.append(("chain", text))
            continue
        if kind == "variable" and pos < len(body) and body[pos] == ".":
            fm = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+").match(body, pos)
            if fm:
                toks.append(("variable", text, fm.group()))
                pos = fm.end()
                continue
        toks.append((kind, text))
    return toks


# --- parsing ----------------------------------------------------------------------------

class _Parser:
    def __init__(self, src: str, name: str):
        self.name = name
        self.pieces = _split(src, name)
        self.i = 0

    def err(self, line: int, msg: str):
        return TemplateError(f"template: {self.name}:{line}: {msg}")

    def parse(self) -> list:
        nodes, end = self.list_until(())
        if end is not None:
            raise self.err(end[2], f"unexpected {{{{{end[0]}}}}}")
        return nodes

    def list_until(self, stops: tuple):
        """Nodes up to an action whose keyword is in stops: (nodes, (keyword, rest, line))."""
        nodes = []
        while self.i < len(self.pieces):
            piece = self.pieces[self.i]
            self.i += 1
            if piece[0] == "text":
                if piece[1]:
                    nodes.append(("text", piece[1]))
                continue
            body, line = piece[1], piece[2]
            toks = _lex(body, self.name, line)
            if not toks:
                raise self.err(line, "missing value for command")
            head = toks[0]
            word = head[1] if head[0] == "ident" else None
            if word in ("end", "else"):
                if word not in stops:
                    raise self.err(line, f"unexpected {{{{{word}}}}}")
                return nodes, (word, toks[1:], line)
            if word in ("if", "range", "with"):
                nodes.append(self.control(word, toks[1:], line))
            elif word in ("break", "continue"):
                nodes.append((word,))
            elif word in ("define", "block", "template"):
                raise self.err(line, f"{{{{{word}}}}} is not supported here")
            else:
                nodes.append(("action", self.pipeline(toks, line)))
        if stops:
            raise self.err(self.pieces[-1][2] if self.pieces[-1][0] == "action" else 1,
                           "unexpected EOF")
        return nodes, None

    def control(self, word: str, toks: list, line: int):
        if not toks:
            raise self.err(line, f"missing value for {word}")
        pipe = self.pipeline(toks, line, range_decl=word == "range")
        body, end = self.list_until(("end", "else"))
        other = []
        if end[0] == "else":
            rest = end[1]
            if rest and rest[0][0] == "ident" and rest[0][1] in ("if", "with") and word in ("if", "with"):
                # else if / else with: a nested control that shares our end
                other = [self.control(rest[0][1], rest[1:], end[2])]
                return (word, pipe, body, other)
            if rest:
                raise self.err(end[2], "unexpected token after else")
            other, end = self.list_until(("end",))
        if end[1]:
            raise self.err(end[2], "unexpected token after end")
        return (word, pipe, body, other)

    def pipeline(self, toks: list, line: int, range_decl: bool = False):
        decl = []
        assign = False
        # $x := ..., $i, $e := ... (range), $x = ...
        if toks and toks[0][0] == "variable" and len(toks[0]) == 2:
            j = 1
            names = [toks[0][1]]
            if range_decl and len(toks) > 3 and toks[1][0] == "comma" and toks[2][0] == "variable":
                names.append(toks[2][1])
                j = 3
            if len(toks) > j and toks[j][0] in ("decl", "assign"):
                decl = names
                assign = toks[j][0] == "assign"
                toks = toks[j + 1:]
        cmds = [[]]
        depth = 0
        for t in toks:
            if t[0] == "pipe" and depth == 0:
                cmds.append([])
                continue
            if t[0] == "lparen":
                depth += 1
            elif t[0] == "rparen":
                depth -= 1
                if depth < 0:
                    raise self.err(line, "unexpected right paren")
            cmds[-1].append(t)
        if depth:
            raise self.err(line, "unclosed left paren")
        parsed = []
        for c in cmds:
            if not c:
                raise self.err(line, "missing command")
            parsed.append(self.command(c, line))
        return (decl, assign, parsed)

    def command(self, toks: list, line: int):
        args = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t[0] == "lparen":
                depth, j = 1, i + 1
                while depth:
                    depth += {"lparen": 1, "rparen": -1}.get(toks[j][0], 0)
                    j += 1
                node = ("pipe", self.pipeline(toks[i + 1:j - 1], line))
                i = j
                if i < len(toks) and toks[i][0] == "chain":
                    node = ("chain", node, toks[i][1][1:].split("."))
                    i += 1
                args.append(node)
                continue
            args.append(self.operand(t, line))
            i += 1
        return args

    def operand(self, t, line: int):
        kind = t[0]
        if kind == "field":
            return ("field", t[1][1:].split("."))
        if kind == "dot":
            return ("dot",)
        if kind == "variable":
            return ("var", t[1], t[2][1:].split(".") if len(t) > 2 else [])
        if kind in ("string", "raw"):
            return ("lit", _unquote(t[1]))
        if kind == "char":
            s = _unquote('"' + t[1][1:-1].replace('"', '\\"') + '"')
            return ("lit", ord(s) if len(s) == 1 else 0)
        if kind == "number":
            text = t[1].replace("_", "")
            try:
                if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", text):
                    return ("lit", int(text, 16))
                if re.fullmatch(r"[+-]?[0-9]+", text):
                    return ("lit", int(text))
                return ("lit", float(text))
            except ValueError:
                raise self.err(line, f"bad number syntax: {t[1]!r}") from None
        if kind == "ident":
            if t[1] in ("true", "false"):
                return ("lit", t[1] == "true")
            if t[1] == "nil":
                return ("nil",)
            if t[1] not in FUNCS:
                raise self.err(line, f'function "{t[1]}" not defined')
            return ("func", t[1])
        raise self.err(line, f"unexpected {t[1]!r} in operand")


# --- printing values as Go's fmt %v -----------------------------------------------------

# --- running ----------------------------------------------------------------------------

class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def truth(v) -> bool:
    if v is None or v is NO_VALUE:
        return False
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


class _Run:
    def __init__(self, name: str):
        self.name = name
        self.out = []

    def fail(self, msg: str):
        return TemplateError(f"template: {self.name}: {msg}")

    def nodes(self, nodes: list, dot, scope: list) -> None:
        for n in nodes:
            kind = n[0]
            if kind == "text":
                self.out.append(n[1])
            elif kind == "action":
                decl, _assign, _cmds = n[1]
                v = self.pipe(n[1], dot, scope)
                if not decl:
                    self.out.append(go_str(v))
            elif kind == "if":
                if truth(self.pipe(n[1], dot, scope)):
                    self.nodes(n[2], dot, scope + [{}])
                else:
                    self.nodes(n[3], dot, scope + [{}])
            elif kind == "with":
                v = self.pipe(n[1], dot, scope)
                if truth(v):
                    self.nodes(n[2], v, scope + [{}])
                else:
                    self.nodes(n[3], dot, scope + [{}])
            elif kind == "range":
                self.range(n, dot, scope)
            elif kind == "break":
                raise _Break()
            elif kind == "continue":
                raise _Continue()

    def range(self, n, dot, scope) -> None:
        decl, _assign, cmds = n[1]
        v = self.pipe((None, False, cmds), dot, scope)
        if isinstance(v, dict):
            items = [(k, v[k]) for k in sorted(v, key=str)]
        elif isinstance(v, (list, tuple)):
            items = list(enumerate(v))
        elif isinstance(v, int) and not isinstance(v, bool):
            items = [(i, i) for i in range(v)]
        elif v is None or v is NO_VALUE:
            items = []
        else:
            raise self.fail(f"range can't iterate over {go_str(v)}")
        if not items:
            self.nodes(n[3], dot, scope + [{}])
            return
        for k, e in items:
            frame = {}
            if len(decl) == 1:
                frame[decl[0]] = e
            elif len(decl) == 2:
                frame[decl[0]], frame[decl[1]] = k, e
            try:
                self.nodes(n[2], e, scope + [frame])
            except _Break:
                break
            except _Continue:
                continue

    def pipe(self, pipe, dot, scope):
        decl, assign, cmds = pipe
        v = None
        for i, cmd in enumerate(cmds):
            v = self.command(cmd, dot, scope, v if i else None, i > 0)
        if decl:
            if assign:
                for frame in reversed(scope):
                    if decl[0] in frame:
                        frame[decl[0]] = v
                        break
                else:
                    raise self.fail(f"undefined variable: {decl[0]}")
            else:
                scope[-1][decl[0]] = v
        return v

    def command(self, cmd: list, dot, scope, piped, has_piped: bool):
        first = cmd[0]
        if first[0] == "func":
            args = [self.arg(a, dot, scope) for a in cmd[1:]]
            if has_piped:
                args.append(piped)
            return self.call(first[1], args)
        if first[0] in ("field", "var", "chain") and (len(cmd) > 1 or has_piped):
            # a method given arguments: .Label "com.example"
            args = [self.arg(a, dot, scope) for a in cmd[1:]]
            if has_piped:
                args.append(piped)
            return self.arg(first, dot, scope, args)
        if len(cmd) > 1 or has_piped:
            raise self.fail(f"can't give argument to non-function {self._describe(first)}")
        return self.arg(first, dot, scope)

    def _describe(self, node) -> str:
        if node[0] == "lit":
            return go_str(node[1])
        return node[0]

    def arg(self, node, dot, scope, call_args=None):
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "nil":
            return None
        if kind == "dot":
            return dot
        if kind == "field":
            return self.fields(dot, node[1], call_args)
        if kind == "var":
            name = node[1]
            for frame in reversed(scope):
                if name in frame:
                    base = frame[name]
                    break
            else:
                raise self.fail(f"undefined variable: {name}")
            return self.fields(base, node[2], call_args) if node[2] else base
        if kind == "pipe":
            return self.pipe(node[1], dot, scope + [{}])
        if kind == "chain":
            return self.fields(self.arg(node[1], dot, scope), node[2], call_args)
        if kind == "func":
            return self.call(node[1], [])
        raise self.fail(f"can't evaluate {kind}")

    def fields(self, v, names: list, call_args=None):
        return field_chain(v, names, call_args, self.name)

    def call(self, name: str, args: list):
        try:
            return FUNCS[name](*args)
        except TemplateError:
            raise
        except TypeError:
            raise self.fail(f'error calling {name}: wrong number of args for {name}') from None
        except (ValueError, IndexError, KeyError, AttributeError) as e:
            raise self.fail(f"error calling {name}: {e}") from None


# --- functions ----------------------------------------------------------------------------

def _and(*args):
    if not args:
        raise TypeError()
    for a in args:
        if not truth(a):
            return a
    return args[-1]


def _or(*args):
    if not args:
        raise TypeError()
    for a in args:
        if truth(a):
            return a
    return args[-1]


def _len(v):
    if v is None or v is NO_VALUE:
        raise ValueError("len of nil pointer")
    if isinstance(v, (str, list, tuple, dict)):
        return len(v.encode() if isinstance(v, str) else v)
    raise ValueError(f"len of type {_go_type(v)}")


def _index(v, *keys):
    for k in keys:
        if isinstance(v, dict):
            v = v.get(k, NO_VALUE)
        elif isinstance(v, (list, tuple, str)):
            if not isinstance(k, int) or isinstance(k, bool):
                raise ValueError(f"cannot index slice/array with type {_go_type(k)}")
            if not 0 <= k < len(v):
                raise IndexError(f"index out of range: {k}")
            v = v[k] if not isinstance(v, str) else v.encode()[k]
        elif v is None or v is NO_VALUE:
            raise ValueError("index of untyped nil")
        else:
            raise ValueError(f"can't index item of type {_go_type(v)}")
    return v


def _slice(v, *idx):
    if not isinstance(v, (str, list, tuple)):
        raise ValueError(f"can't slice item of type {_go_type(v)}")
    if len(idx) > 2:
        raise ValueError("too many slice indexes")
    a = idx[0] if idx else 0
    b = idx[1] if len(idx) > 1 else len(v)
    if not 0 <= a <= b <= len(v):
        raise IndexError(f"index out of range: {a}:{b}")
    return v[a:b]


def _sprint(*args) -> str:
    # Go's Sprint: a space between operands when neither is a string
    out = []
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_str(a))
    return "".join(out)


def _sprintln(*args) -> str:
    return " ".join(go_str(a) for a in args) + "\n"


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


def sprintf(fmt: str, *args) -> str:
    out = []
    pos = 0
    ai = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if ai >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        a = args[ai]
        ai += 1
        s = _format_one(a, verb, prec)
        if width:
            w = int(width)
            if "-" in flags:
                s = s.ljust(w)
            elif "0" in flags and verb in "dfeg" and isinstance(a, (int, float)):
                sign = s[0] if s[:1] in "+-" else ""
                s = sign + s[len(sign):].rjust(w - len(sign), "0")
            else:
                s = s.rjust(w)
        elif "+" in flags and verb in "dfeg" and isinstance(a, (int, float)) and a >= 0:
            s = "+" + s
        out.append(s)
    out.append(fmt[pos:])
    if ai < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{_go_type(a)}={go_str(a)}" for a in args[ai:]) + ")")
    return "".join(out)


def _format_one(a, verb: str, prec) -> str:
    if verb in "vs":
        s = go_str(a)
        return s[:int(prec)] if prec and verb == "s" else s
    if verb == "q":
        return json.dumps(go_str(a), ensure_ascii=False) if isinstance(a, str) else go_str(a)
    if verb == "d":
        if isinstance(a, bool) or not isinstance(a, (int, float)) or (isinstance(a, float) and a != int(a)):
            return f"%!d({_go_type(a)}={go_str(a)})"
        return str(int(a))
    if verb in "feEgG":
        if isinstance(a, bool) or not isinstance(a, (int, float)):
            return f"%!{verb}({_go_type(a)}={go_str(a)})"
        p = int(prec) if prec else (6 if verb in "feE" else None)
        if verb in "gG" and p is None:
            return _go_float(float(a))
        return format(float(a), f".{p}{verb}")
    if verb in "xX":
        if isinstance(a, int) and not isinstance(a, bool):
            return format(a, verb)
        if isinstance(a, str):
            return a.encode().hex() if verb == "x" else a.encode().hex().upper()
    if verb == "t" and isinstance(a, bool):
        return go_str(a)
    if verb == "c" and isinstance(a, int):
        return chr(a)
    return f"%!{verb}({_go_type(a)}={go_str(a)})"


def _cmp_args(a, b):
    if isinstance(a, bool) != isinstance(b, bool) or (
            isinstance(a, str) != isinstance(b, str)):
        if not (a is None or b is None):
            raise ValueError("incompatible types for comparison")
    return a, b


def _eq(a, *bs):
    if not bs:
        raise TypeError()
    for b in bs:
        _cmp_args(a, b)
        if a == b:
            return True
    return False


def _ordered(op):
    def f(a, b):
        _cmp_args(a, b)
        if not isinstance(a, (int, float, str)) or not isinstance(b, (int, float, str)):
            raise ValueError("invalid type for comparison")
        return op(a, b)
    return f


def _json(v) -> str:
    if v is NO_VALUE:
        v = None
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_default(o):
    fn = getattr(o, "json_dict", None)
    if fn is not None:
        return fn()
    raise TypeError(f"{type(o).__name__} is not JSON")


def _title(s: str) -> str:
    # Go's strings.Title: upper-case the first letter of each word
    return re.sub(r"(^|[^\w'])(\w)", lambda m: m.group(1) + m.group(2).upper(), s)


def _pad(s, left: int, right: int) -> str:
    return " " * left + go_str(s) + " " * right


def _truncate(s, n: int) -> str:
    s = go_str(s)
    return s[:n] if len(s) > n else s


def _split_fn(s: str, sep: str) -> list:
    if sep == "":
        return list(s)
    return s.split(sep)


def _join(items, sep: str) -> str:
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"wrong type for value; expected []string; got {_go_type(items)}")
    return sep.join(go_str(x) for x in items)


def _html(*args) -> str:
    import html
    return html.escape(_sprint(*args)).replace("&#x27;", "&#39;")


def _urlquery(*args) -> str:
    from urllib.parse import quote_plus
    return quote_plus(_sprint(*args))


FUNCS = {
    "and": _and, "or": _or, "not": lambda a: not truth(a), "len": _len, "index": _index, "slice": _slice,
    "print": _sprint, "printf": sprintf, "println": _sprintln,
    "eq": _eq, "ne": lambda a, b: not _eq(a, b), "lt": _ordered(lambda a, b: a < b),
    "le": _ordered(lambda a, b: a <= b), "gt": _ordered(lambda a, b: a > b),
    "ge": _ordered(lambda a, b: a >= b), "html": _html, "urlquery": _urlquery,
    "js": lambda *a: json.dumps(_sprint(*a))[1:-1].replace("'", "\\'"),
    "call": lambda f, *a: f(*a),
    # the docker CLI's own
    "json": _json, "split": _split_fn, "join": _join, "title": _title, "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(), "pad": _pad, "truncate": _truncate,
}


class Template:
    def __init__(self, src: str, name: str = ""):
        self.src = src
        self.name = name
        self.tree = _Parser(src, name).parse()

    def render(self, data) -> str:
        run = _Run(self.name)
        try:
            run.nodes(self.tree, data, [{"$": data}])
        except (_Break, _Continue):
            raise TemplateError(f"template: {self.name}: break or continue outside range") from None
        return "".join(run.out)


def parse(src: str, name: str = "") -> Template:
    return Template(src, name)


def render(src: str, data) -> str:
    return Template(src).render(data)
