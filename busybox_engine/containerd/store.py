"""Metadata records as JSON files, written crash-safe (temp, fsync, rename):
ROOT/KIND/NAMESPACE/ID.json. A kill -9 at any moment leaves either the old
or the new record, never half of one."""
import json
import os

from busybox_engine.rpc.errors import AlreadyExists, InvalidArgument, NotFound


def check_name(what: str, name) -> str:
    if (not isinstance(name, str) or not name or len(name) > 200 or name in (".", "..")
            or not all(c.isalnum() or c in "-_.+" for c in name)):
        raise InvalidArgument(f"invalid {what} {name!r}")
    return name


class Store:
    def __init__(self, root: str):
        self.root = root

    def _path(self, kind: str, ns: str, rid: str) -> str:
        return os.path.join(self.root, kind, check_name("namespace", ns), check_name(kind[:-1] + " id", rid) + ".json")

    def create(self, kind: str, ns: str, rid: str, record: dict) -> dict:
        path = self._path(kind, ns, rid)
        if os.path.exists(path):
            raise AlreadyExists(f"{kind[:-1]} {rid!r}: already exists")
        self._write(path, record)
        return record

    def put(self, kind: str, ns: str, rid: str, record: dict) -> dict:
        self._write(self._path(kind, ns, rid), record)
        return record

    def get(self, kind: str, ns: str, rid: str) -> dict:
        try:
            with open(self._path(kind, ns, rid)) as f:
                return json.load(f)
        except FileNotFoundError:
            raise NotFound(f"{kind[:-1]} {rid!r} not found") from None

    def list(self, kind: str, ns: str) -> list:
        d = os.path.join(self.root, kind, check_name("namespace", ns))
        try:
            names = sorted(n[:-5] for n in os.listdir(d) if n.endswith(".json"))
        except FileNotFoundError:
            return []
        out = []
        for n in names:
            try:
                out.append(self.get(kind, ns, n))
            except (NotFound, ValueError):
                continue
        return out

    def delete(self, kind: str, ns: str, rid: str) -> None:
        try:
            os.unlink(self._path(kind, ns, rid))
        except FileNotFoundError:
            raise NotFound(f"{kind[:-1]} {rid!r} not found") from None

    @staticmethod
    def _write(path: str, record: dict) -> None:
        os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"  # writers in threads too
        with open(tmp, "w") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
        fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
