"""Turn plain Python functions into RPC methods with checked parameters.

A method is a function whose keyword parameters are the keys of the params
map; its annotations (str, int, bool, float, bytes, dict, list, X | None)
are checked before it runs, so a wrong type is an invalid_argument reply,
never an exception deep inside a handler. A keyword-only parameter named
`_conn` receives the calling connection (for notifications).
"""
import inspect
import types
import typing

from busybox_engine.rpc.errors import InvalidArgument, NotFound

_EMPTY = inspect.Parameter.empty
_TYPE_NAMES = {str: "string", int: "integer", bool: "boolean", float: "number",
               bytes: "bytes", dict: "map", list: "array", type(None): "nil"}


def _accepted(annotation) -> tuple | None:
    """The concrete types an annotation admits, or None for anything."""
    if annotation is _EMPTY or annotation is typing.Any:
        return None
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        out = ()
        for arg in typing.get_args(annotation):
            accepted = _accepted(arg)
            if accepted is None:
                return None
            out += accepted
        return out
    if origin is not None:  # dict[str, int] -> dict
        annotation = origin
    if annotation is float:
        return (float, int)
    if annotation is bytes:
        return (bytes, bytearray)
    return (annotation,)


def _type_ok(value, accepted: tuple) -> bool:
    if isinstance(value, bool) and bool not in accepted:
        return False  # True is an int to Python, not to a caller
    return isinstance(value, accepted)


class Method:
    __slots__ = ("name", "fn", "params", "required", "wants_conn")

    def __init__(self, name: str, fn):
        self.name = name
        self.fn = fn
        hints = typing.get_type_hints(fn)
        self.params = {}
        self.required = set()
        self.wants_conn = False
        for p in inspect.signature(fn).parameters.values():
            if p.name == "_conn":
                self.wants_conn = True
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"RPC method {name}: *args/**kwargs not supported")
            self.params[p.name] = _accepted(hints.get(p.name, _EMPTY))
            if p.default is _EMPTY:
                self.required.add(p.name)

    def bind(self, params) -> dict:
        """Check params against the signature; the kwargs to call with."""
        if params is None:
            params = {}
        elif not isinstance(params, dict):
            raise InvalidArgument(f"{self.name}: params must be a map, "
                                  f"not {_TYPE_NAMES.get(type(params), type(params).__name__)}")
        for key, value in params.items():
            if key not in self.params:
                raise InvalidArgument(f"{self.name}: unknown parameter {key!r}")
            accepted = self.params[key]
            if accepted is not None and not _type_ok(value, accepted):
                want = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in accepted
                                   if not (t is int and float in accepted)
                                   and t is not bytearray)
                raise InvalidArgument(f"{self.name}: parameter {key!r} must be {want}")
        missing = self.required.difference(params)
        if missing:
            raise InvalidArgument(f"{self.name}: missing parameter "
                                  f"{', '.join(repr(m) for m in sorted(missing))}")
        return params


class Registry:
    """method name -> Method; built once when a daemon starts."""

    def __init__(self):
        self.methods = {}

    def add(self, name: str, fn) -> None:
        if name in self.methods:
            raise ValueError(f"RPC method {name} registered twice")
        self.methods[name] = Method(name, fn)

    def add_service(self, service: str, obj) -> None:
        """Register obj's public methods as `service.verb`."""
        for attr in dir(obj):
            if attr.startswith("_"):
                continue
            fn = getattr(obj, attr)
            if callable(fn):
                self.add(f"{service}.{attr}", fn)

    def lookup(self, name) -> Method:
        method = self.methods.get(name) if isinstance(name, str) else None
        if method is None:
            raise NotFound(f"unknown method {name!r}")
        return method
