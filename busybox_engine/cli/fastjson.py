"""JSON for the docker client: util.fastjson (json's C accelerators, without
`import json` and the re it pulls in on every `docker ps`), written
compact as Go's encoding/json writes it, with json_dict() for our objects."""
from busybox_engine.util import fastjson as _fastjson

__all__ = ["loads", "dumps"]

loads = _fastjson.loads


def _default(o):
    fn = getattr(o, "json_dict", None)
    if fn is not None:
        return fn()
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def dumps(obj, ensure_ascii: bool = True) -> str:
    """Compact JSON (no spaces), as Go's encoding/json writes it."""
    return _fastjson.dumps(obj, separators=(",", ":"), ensure_ascii=ensure_ascii, default=_default)
