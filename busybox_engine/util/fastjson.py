"""json.loads/json.dumps through the _json C module alone.

`import json` costs runc and the shim several milliseconds on every start:
json.decoder imports re and compiles its regexes at import. The C scanner
and encoder that json itself uses need none of that; only the error path
imports json (for JSONDecodeError, as the C scanner does too). Output is
byte for byte json.dumps's.
The runtime (runc, the shim) and the docker client both use it.
"""
import _json

_WS = " \t\n\r"
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _Context:
    # the attributes _json.make_scanner reads, with json's defaults
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo = None


_scan = _json.make_scanner(_Context())


def _error(msg: str, doc: str, pos: int):
    from json import JSONDecodeError
    return JSONDecodeError(msg, doc, pos)


def loads(s):
    """json.loads for str or UTF-8 bytes (other encodings go to json)."""
    if isinstance(s, (bytes, bytearray)):
        if s[:3] == b"\xef\xbb\xbf":
            s = s[3:].decode("utf-8")
        elif s[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(s) >= 2 and (not s[0] or not s[1])):
            import json   # UTF-16/32: json detects them
            return json.loads(s)
        else:
            s = s.decode("utf-8")
    elif not isinstance(s, str):
        raise TypeError(f"the JSON object must be str, bytes or bytearray, not {s.__class__.__name__}")
    elif s.startswith("\ufeff"):
        raise _error("Unexpected UTF-8 BOM (decode using utf-8-sig)", s, 0)
    start = len(s) - len(s.lstrip(_WS))
    try:
        obj, end = _scan(s, start)
    except StopIteration as e:
        raise _error("Expecting value", s, e.value) from None
    except SystemError:
        # the C scanner raises its errors as json.decoder's, which it only
        # finds once imported: let json say what is wrong
        import json
        return json.loads(s)
    tail = s[end:]
    if tail.strip(_WS):
        raise _error("Extra data", s, end + len(tail) - len(tail.lstrip(_WS)))
    return obj


def load(f):
    return loads(f.read())


def _type_error(o):
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


_encoders = {}


def dumps(obj, *, separators=None, sort_keys: bool = False, ensure_ascii: bool = True,
          default=None) -> str:
    """json.dumps(obj) with these of its keywords (indent: dumps_indent)."""
    item_sep, key_sep = separators or (", ", ": ")
    key = (item_sep, key_sep, sort_keys, ensure_ascii, default)
    enc = _encoders.get(key)
    if enc is None:
        enc = _encoders[key] = _json.make_encoder(
            {}, default or _type_error,
            _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring,
            None, key_sep, item_sep, sort_keys, False, True)
    return "".join(enc(obj, 0))


def go_escape(text: str) -> str:
    """JSON text as Go's encoding/json writes it past Python's: <, > and &
    (and U+2028/9) escaped."""
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def dumps_indent(obj, indent: str = "  ") -> str:
    """json.dumps(obj, indent=indent) for dicts, lists and scalars (what
    `runc state` prints; Go's MarshalIndent writes the same)."""
    def walk(o, pad: str) -> str:
        inner = pad + indent
        if isinstance(o, dict) and o:
            items = [f"{inner}{dumps(str(k))}: {walk(v, inner)}" for k, v in o.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(o, (list, tuple)) and o:
            return "[\n" + ",\n".join(inner + walk(v, inner) for v in o) + "\n" + pad + "]"
        return dumps(o)
    return walk(obj, "")
