"""What every ctr verb shares: the connection to containerd, tables."""
from busybox_engine.rpc.client import Client

DEFAULT_ADDRESS = "/run/busybox-engine/containerd.sock"


class Ctx:
    def __init__(self, address: str, namespace: str):
        self.address = address
        self.namespace = namespace
        self._client = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.address)
        return self._client

    def reconnect(self) -> None:
        """Drop the connection: the next call makes a new one."""
        if self._client is not None:
            self._client.close()
            self._client = None


def table(rows: list) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "".join("".join(str(c).ljust(w + 4) for c, w in zip(r, widths)).rstrip() + "\n" for r in rows)
