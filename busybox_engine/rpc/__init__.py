"""msgpack-RPC between the components (DESIGN.md section 4).

request [0, msgid, method, params], response [1, msgid, error, result],
notification [2, method, params]; params is one map; errors are maps
{"code", "message"} with a closed set of codes (see errors.py).
"""
from busybox_engine.rpc.errors import (  # noqa: F401
    AlreadyExists, FailedPrecondition, Internal, InvalidArgument, NotFound,
    RPCError, Unavailable,
)
