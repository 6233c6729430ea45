"""The closed set of errors that crosses a component boundary.

Each code maps to one exception class (both ways) and to the HTTP status
dockerd answers with.
"""


class RPCError(Exception):
    code = "internal"
    http_status = 500

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message

    def to_wire(self) -> dict:
        return {"code": self.code, "message": self.message}


class NotFound(RPCError):
    code = "not_found"
    http_status = 404


class AlreadyExists(RPCError):
    code = "already_exists"
    http_status = 409


class InvalidArgument(RPCError):
    code = "invalid_argument"
    http_status = 400


class FailedPrecondition(RPCError):
    code = "failed_precondition"
    http_status = 409


class Unauthenticated(RPCError):
    """Credentials missing or refused (by a registry)."""
    code = "unauthenticated"
    http_status = 401


class Unavailable(RPCError):
    code = "unavailable"
    http_status = 503


class Internal(RPCError):
    code = "internal"
    http_status = 500


BY_CODE = {cls.code: cls for cls in
           (NotFound, AlreadyExists, InvalidArgument, FailedPrecondition,
            Unauthenticated, Unavailable, Internal)}


def from_wire(error) -> RPCError:
    """The exception for an error map; anything malformed is Internal."""
    if isinstance(error, dict):
        cls = BY_CODE.get(error.get("code"), Internal)
        message = error.get("message")
        return cls(message if isinstance(message, str) else repr(error))
    return Internal(f"malformed error from server: {error!r}")
