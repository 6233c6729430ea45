"""Metadata records as JSON files, written crash-safe (temp, fsync, rename):
ROOT/KIND/NAMESPACE/ID.json. A kill -9 at any moment leaves either the old
or the new record, never half of one."""
import json
import os

from busybox_engine.rpc.errors import AlreadyExists, InvalidArgument, NotFound
from busybox_engine.util.atomicfile import atomic_write


def check_name(what: str, name) -> str:
    """Namespaces and ids: letters, digits and -_.+ (never `/`, which
    joins them into keys that cannot collide)."""
    if (not isinstance(name, str) or not name or len(name) > 200 or name in (".", "..")
            or not all(c.isalnum() or c in "-_.+" for c in name)):
        raise InvalidArgument(f"invalid {what} {name!r}")
    return name


class Store:
    def __init__(self, root: str):
        self.root = root

    def _path(self, kind: str, ns: str, rid: str) -> str:
        return os.path.join(self.root, kind, check_name("namespace", ns), check_name(kind[:-1] + " id", rid) + ".json")

    def exists(self, kind: str, ns: str, rid: str) -> bool:
        return os.path.exists(self._path(kind, ns, rid))

    def create(self, kind: str, ns: str, rid: str, record: dict) -> dict:
        """A new record; AlreadyExists if there is one (checked atomically:
        the record is linked into place, which fails if the name is taken)."""
        path = self._path(kind, ns, rid)
        os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
        try:
            atomic_write(path, json.dumps(record), mode=0o600, exclusive=True)
        except FileExistsError:
            raise AlreadyExists(f"{kind[:-1]} {rid!r}: already exists") from None
        return record

    def put(self, kind: str, ns: str, rid: str, record: dict) -> dict:
        path = self._path(kind, ns, rid)
        os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
        atomic_write(path, json.dumps(record), mode=0o600)
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
            except (NotFound, ValueError, InvalidArgument):
                continue
        return out

    def namespaces(self, kind: str) -> list:
        try:
            return sorted(os.listdir(os.path.join(self.root, kind)))
        except FileNotFoundError:
            return []

    def delete(self, kind: str, ns: str, rid: str) -> None:
        try:
            os.unlink(self._path(kind, ns, rid))
        except FileNotFoundError:
            raise NotFound(f"{kind[:-1]} {rid!r} not found") from None
