"""gRPC methods from the CRI descriptors: each CRI method an object has
(`async def Version(self, request) -> response`) becomes a unary handler;
one it lacks answers UNIMPLEMENTED, as grpclib does for unknown paths.
Our errors become gRPC statuses with their message."""
import logging

from grpclib.const import Cardinality, Handler, Status
from grpclib.exceptions import GRPCError
from grpclib.server import Server

from busybox_engine.cri import cri_api_pb2 as pb
from busybox_engine.rpc import errors

STATUS = {errors.NotFound: Status.NOT_FOUND, errors.InvalidArgument: Status.INVALID_ARGUMENT,
          errors.AlreadyExists: Status.ALREADY_EXISTS, errors.FailedPrecondition: Status.FAILED_PRECONDITION,
          errors.Unavailable: Status.UNAVAILABLE, errors.Unauthenticated: Status.UNAUTHENTICATED}
log = logging.getLogger("cri")


def status_of(exc: BaseException) -> Status:
    for cls, status in STATUS.items():
        if isinstance(exc, cls):
            return status
    return Status.INTERNAL


def _unary(fn):
    async def handle(stream) -> None:
        request = await stream.recv_message()
        try:
            reply = await fn(request)
        except GRPCError:
            raise
        except errors.RPCError as e:
            raise GRPCError(status_of(e), str(e)) from None
        except Exception as e:   # noqa: BLE001 - a handler's bug is the caller's INTERNAL, not our crash
            log.exception("CRI %s", fn.__name__)
            raise GRPCError(Status.INTERNAL, f"{type(e).__name__}: {e}") from None
        await stream.send_message(reply)
    return handle


async def _unimplemented(stream) -> None:
    raise GRPCError(Status.UNIMPLEMENTED, "unknown method")


class _Paths(dict):
    """grpclib answers an unknown path with a bare HTTP/2 trailer that Go
    clients read as UNKNOWN; through a handler of ours it is UNIMPLEMENTED
    with a content-type, which kubelet needs to fall back."""

    def get(self, path, default=None):
        found = super().get(path)
        if found is None:
            from busybox_engine.cri import cri_api_pb2 as pb
            return Handler(_unimplemented, Cardinality.UNARY_UNARY, pb.VersionRequest, pb.VersionResponse)
        return found


def _server_stream(fn):
    async def handle(stream) -> None:
        request = await stream.recv_message()
        try:
            async for reply in fn(request):
                await stream.send_message(reply)
        except errors.RPCError as e:
            raise GRPCError(status_of(e), str(e)) from None
    return handle


class Methods:
    """grpclib's servable: the mapping of /runtime.v1.Service/Method paths."""

    def __init__(self, services: list):
        self.mapping = _Paths()
        for service in pb.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                for impl in services:
                    fn = getattr(impl, method.name, None)
                    if fn is not None:
                        streaming = method.server_streaming
                        self.mapping[f"/{service.full_name}/{method.name}"] = Handler(
                            (_server_stream if streaming else _unary)(fn),
                            Cardinality.UNARY_STREAM if streaming else Cardinality.UNARY_UNARY,
                            getattr(pb, method.input_type.name), getattr(pb, method.output_type.name))
                        break

    def __mapping__(self) -> dict:
        return self.mapping


def make_server(services: list) -> Server:
    methods = Methods(services)
    server = Server([methods])
    server._mapping = methods.mapping   # Server copies it into a plain dict
    return server
