"""Container state on disk: ROOT/ID/state.json, and the container's status.

The init process is identified by pid *and* start time, so a recycled pid
is never taken for the container.
"""
import os
import time

from busybox_engine.oci.defaults import OCI_VERSION  # noqa: F401 - the state's version
from busybox_engine.runtime.errors import ContainerNotExist, InvalidID
from busybox_engine.util import fastjson as json

STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"
_ID_PUNCTUATION = frozenset("+-._")


def validate_id(cid: str) -> None:
    """runc's rule, ^[\\w+-.]+$ and not . or .. (no `re`: it costs start-up)."""
    if not cid:
        raise InvalidID("container id cannot be empty")
    if (cid in (".", "..") or len(cid) > 255
            or not all(c.isalnum() or c in _ID_PUNCTUATION for c in cid)):
        raise InvalidID(f"invalid container id format: {cid[:300]}")


def proc_stat(pid: int) -> tuple | None:
    """(state letter, start time in clock ticks) of pid, None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[19])


def rfc3339_now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


class Container:
    """What ROOT/ID/state.json holds; `status` is computed, never stored."""

    def __init__(self, root: str, cid: str, data: dict):
        self.root = root
        self.id = cid
        self.data = data

    @property
    def dir(self) -> str:
        return os.path.join(self.root, self.id)

    @property
    def pid(self) -> int:
        return self.data.get("init_pid", 0)

    @property
    def spec(self) -> dict:
        return self.data["config"]

    @property
    def fifo(self) -> str:
        return os.path.join(self.dir, EXEC_FIFO)

    def init_alive(self) -> bool:
        st = proc_stat(self.pid) if self.pid else None
        return st is not None and st[0] not in ("Z", "X") and st[1] == self.data.get("init_start")

    def status(self) -> str:
        if not self.init_alive():
            return "stopped"
        from busybox_engine.runtime.cgroups import manager_for
        if manager_for(self).frozen():
            return "paused"
        if os.path.exists(self.fifo):
            return "created"
        return "running"

    def oci_state(self) -> dict:
        status = self.status()
        out = {"ociVersion": OCI_VERSION, "id": self.id,
               "pid": self.pid if status != "stopped" else 0, "status": status,
               "bundle": self.data["bundle"], "rootfs": self.data["rootfs"],
               "created": self.data["created"], "owner": ""}
        annotations = self.spec.get("annotations")
        if annotations:
            out["annotations"] = annotations
        return out

    def save(self) -> None:
        from busybox_engine.util.atomicfile import atomic_write
        # as runc: whole or not at all, not synced (the state lives in /run)
        atomic_write(os.path.join(self.dir, STATE_FILE), json.dumps(self.data), durable=False)


def load(root: str, cid: str) -> Container:
    validate_id(cid)
    try:
        with open(os.path.join(root, cid, STATE_FILE)) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ContainerNotExist("container does not exist") from None   # runc 1.1's words
    except ValueError:
        raise ContainerNotExist(f"container {cid}: state file is unreadable") from None
    return Container(root, cid, data)


def list_ids(root: str) -> list:
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    return [n for n in names if os.path.exists(os.path.join(root, n, STATE_FILE))]
