"""Go's text/template values without the template engine: field chains
as the docker CLI evaluates them and values as fmt's %v prints them.
`docker ps`, `inspect -f '{{.State.Status}}'` and most --format values
need no more than this, and it imports nothing (gotemplate imports re)."""

__all__ = ["TemplateError", "NO_VALUE", "go_str", "field_chain", "render_simple", "simple_template"]


class TemplateError(Exception):
    """A template that does not parse, or fails when run (Go's wording)."""


class _NoValue:
    """A missing map key: prints as <no value>, is false."""

    def __bool__(self):
        return False

    def __repr__(self):
        return "<no value>"


NO_VALUE = _NoValue()


def go_str(v) -> str:
    if v is NO_VALUE:
        return "<no value>"
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, dict):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(v[k])}" for k in sorted(v, key=str)) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    return str(v)


def _go_float(f: float) -> str:
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == int(f) and abs(f) < 1e21:
        return str(int(f))
    r = repr(f)
    if "e" in r:
        mant, exp = r.split("e")
        e = int(exp)
        if -4 <= e < 21:
            return format(f, "f").rstrip("0").rstrip(".")
        return f"{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"
    return r


def _go_type(v) -> str:
    return {str: "string", int: "int", float: "float64", bool: "bool"}.get(
        type(v), "[]interface {}" if isinstance(v, (list, tuple)) else "map[string]interface {}")


def _fail(name: str, msg: str) -> "TemplateError":
    return TemplateError(f"template: {name}: {msg}")


def field_chain(v, names: list, call_args=None, name_of=""):
    for i, name in enumerate(names):
        last = i == len(names) - 1
        if isinstance(v, dict):
            found = v.get(name, NO_VALUE)
            if found is NO_VALUE:
                # the docker CLI runs templates on Go structs first: their
                # field names (ID, APIVersion, CPUShares) differ from the
                # JSON keys (Id, ApiVersion, CpuShares) by case
                lower = name.lower()
                for k in v:
                    if isinstance(k, str) and k.lower() == lower:
                        found = v[k]
                        break
            v = found
            if last and call_args:
                raise _fail(name_of, f"can't give argument to non-function .{name}")
            continue
        if v is NO_VALUE:
            continue        # a missing key's fields are missing too
        if v is None:
            raise _fail(name_of, f"nil pointer evaluating interface {{}}.{name}")
        if isinstance(v, (str, int, float, bool, list, tuple)):
            raise _fail(name_of, f"can't evaluate field {name} in type {_go_type(v)}")
        attr = getattr(v, name, NO_VALUE)
        if attr is NO_VALUE or name.startswith("_"):
            raise _fail(name_of, f"can't evaluate field {name} in type {type(v).__name__}")
        if callable(attr):
            args = call_args if last and call_args else []
            try:
                attr = attr(*args)
            except TypeError as e:
                raise _fail(name_of, f"wrong number of args for {name}: {e}") from None
        elif last and call_args:
            raise _fail(name_of, f"can't give argument to non-function .{name}")
        v = attr
    return v


_IDENT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def simple_template(src: str):
    """The pieces of a template made only of text and {{.Field.Chain}} (or
    {{.}}) actions: [str | list of names]; None if it needs more."""
    pieces = []
    i = 0
    while True:
        j = src.find("{{", i)
        if j < 0:
            if "}}" in src[i:]:
                return None
            pieces.append(src[i:])
            return pieces
        k = src.find("}}", j)
        if k < 0:
            return None
        text = src[i:j]
        if "}}" in text:
            return None
        body = src[j + 2:k].strip(" ")
        if not body.startswith(".") or body.startswith("- ") or body.endswith(" -"):
            return None
        names = body[1:].split(".") if body != "." else []
        if any(not n or not set(n) <= _IDENT or n[0].isdigit() for n in names):
            return None
        pieces.append(text)
        pieces.append(names)
        i = k + 2


def render_simple(pieces: list, data) -> str:
    out = []
    for p in pieces:
        if isinstance(p, str):
            out.append(p)
        else:
            out.append(go_str(field_chain(data, p) if p else data))
    return "".join(out)
