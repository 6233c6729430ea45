"""The CRI socket: a unix listener that loads the gRPC stack with its first
connection and hands every connection to grpclib's HTTP/2 protocol."""
import asyncio
import os

from busybox_engine.daemon.lifecycle import SocketClaim


class Endpoint:
    """Serve `make_services()`'s gRPC methods at path (mode 0600)."""

    def __init__(self, path: str, make_services):
        self.path = path
        self.make_services = make_services   # () -> objects with CRI method names
        self.claim = None
        self.listener = None
        self.grpc = None                     # grpclib's Server, made on first use

    async def start(self) -> None:
        self.claim = SocketClaim(self.path, "CRI endpoint").claim()
        old = os.umask(0o177)
        try:
            self.listener = await asyncio.get_running_loop().create_unix_server(self._protocol, self.path)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    def _protocol(self):
        if self.grpc is None:
            from busybox_engine.cri.server import make_server
            self.grpc = make_server(self.make_services())
        # grpclib's Server.start() would listen itself; its factory gives
        # the per-connection protocol for a listener that is ours
        return self.grpc._protocol_factory()

    async def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.grpc is not None:
            handlers = list(self.grpc._handlers)
            for h in handlers:
                h.close()
            await asyncio.gather(*(h.wait_closed() for h in handlers), return_exceptions=True)
        if self.claim is not None:
            self.claim.release()
            self.claim = None
