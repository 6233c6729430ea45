"""JSON for the docker client through the C accelerators alone.

`import json` pulls in re (json.decoder compiles its number pattern), and
every `docker ps` pays for it; _json's scanner and encoder are what
json.loads/dumps run anyway, so the client calls them directly."""
import _json

__all__ = ["loads", "dumps"]

_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_WS = " \t\n\r"


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo = {}


_scan = _json.make_scanner(_Context())


def loads(s):
    """As json.loads (ValueError for what is not one JSON document)."""
    if isinstance(s, (bytes, bytearray)):
        s = s.decode("utf-8")
    i, n = 0, len(s)
    while i < n and s[i] in _WS:
        i += 1
    try:
        obj, end = _scan(s, i)
    except StopIteration as e:
        raise ValueError(f"Expecting value: char {e.value}") from None
    while end < n and s[end] in _WS:
        end += 1
    if end != n:
        raise ValueError(f"Extra data: char {end}")
    return obj


def _default(o):
    fn = getattr(o, "json_dict", None)
    if fn is not None:
        return fn()
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


_encode = _json.make_encoder(None, _default, _json.encode_basestring_ascii, None, ":", ",", False, False, True)
_encode_utf8 = _json.make_encoder(None, _default, _json.encode_basestring, None, ":", ",", False, False, True)


def dumps(obj, ensure_ascii: bool = True) -> str:
    """Compact JSON (no spaces), as Go's encoding/json writes it."""
    return "".join((_encode if ensure_ascii else _encode_utf8)(obj, 0))
