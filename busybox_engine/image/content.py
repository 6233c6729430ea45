"""The content store: blobs addressed by sha256, verified before commit.

A blob is written under ingest/, hashed as it arrives, checked against
the expected digest and size, fsynced, and renamed into blobs/sha256/: a
crash leaves at most a stray file in ingest/ (cleared at start), never a
half-written blob under its name.
"""
import hashlib
import json
import os
import re
import threading

from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument, NotFound
from busybox_engine.util.atomicfile import atomic_write

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def check_digest(digest) -> str:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise InvalidArgument(f"invalid digest {digest!r}")
    return digest


def check_descriptor(desc, what: str) -> dict:
    """An OCI descriptor with a sha256 digest and a size, or InvalidArgument."""
    if not isinstance(desc, dict) or not isinstance(desc.get("size"), int) or desc["size"] < 0:
        raise InvalidArgument(f"{what}: invalid descriptor {desc!r}")
    try:
        check_digest(desc.get("digest"))
    except InvalidArgument:
        raise InvalidArgument(f"{what}: invalid digest {desc.get('digest')!r}") from None
    return desc


class Writer:
    def __init__(self, store: "ContentStore", expected: str | None, size: int | None, lease=None):
        self.store = store
        self.expected = expected
        self.size = size
        self.lease = lease  # a leases.Lease: the blob is leased before it is visible
        self.hash = hashlib.sha256()
        self.written = 0
        self.path = os.path.join(store.ingest, f"{os.getpid()}-{id(self):x}-{os.urandom(4).hex()}")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)

    def write(self, data: bytes) -> None:
        if self.size is not None and self.written + len(data) > self.size:
            self.abort()
            raise FailedPrecondition(f"blob {self.expected}: more data than the declared {self.size} bytes")
        self.hash.update(data)
        self.written += len(data)
        while data:
            n = os.write(self.fd, data)
            data = data[n:]

    def restart(self) -> None:
        """Forget what was written: the source starts over."""
        self.hash = hashlib.sha256()
        self.written = 0
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)

    def commit(self) -> str:
        digest = "sha256:" + self.hash.hexdigest()
        if self.expected and digest != self.expected:
            self.abort()
            raise FailedPrecondition(f"blob digest mismatch: expected {self.expected}, got {digest}")
        if self.size is not None and self.written != self.size:
            self.abort()
            raise FailedPrecondition(f"blob {digest}: size {self.written}, expected {self.size}")
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        if self.lease is not None:
            self.lease.blob(digest)
        target = self.store.path(digest)
        os.rename(self.path, target)
        dfd = os.open(os.path.dirname(target), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return digest

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class ContentStore:
    def __init__(self, root: str):
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        self.ingest = os.path.join(root, "ingest")
        os.makedirs(self.blobs, mode=0o700, exist_ok=True)
        os.makedirs(self.ingest, mode=0o700, exist_ok=True)
        self.sources_dir = os.path.join(root, "sources")
        os.makedirs(self.sources_dir, mode=0o700, exist_ok=True)
        self._sources_lock = threading.Lock()
        for stale in os.listdir(self.sources_dir):
            if ".tmp" in stale:  # an atomic write cut off
                os.unlink(os.path.join(self.sources_dir, stale))
        for stale in os.listdir(self.ingest):  # left by a crash: never committed
            os.unlink(os.path.join(self.ingest, stale))

    def path(self, digest: str) -> str:
        return os.path.join(self.blobs, check_digest(digest)[len("sha256:"):])

    def writer(self, expected: str | None = None, size: int | None = None, lease=None) -> Writer:
        if expected:
            check_digest(expected)
        return Writer(self, expected, size, lease)

    def put(self, data: bytes, expected: str | None = None, lease=None) -> str:
        w = self.writer(expected, len(data), lease)
        w.write(data)
        return w.commit()

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def read(self, digest: str) -> bytes:
        try:
            with open(self.path(digest), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"content {digest} not found") from None

    def info(self, digest: str) -> dict:
        try:
            st = os.stat(self.path(digest))
        except FileNotFoundError:
            raise NotFound(f"content {digest} not found") from None
        return {"digest": digest, "size": st.st_size, "created_at": st.st_mtime}

    def list(self) -> list:
        return sorted("sha256:" + n for n in os.listdir(self.blobs))

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            raise NotFound(f"content {digest} not found") from None
        try:
            os.unlink(self._sources_path(digest))
        except FileNotFoundError:
            pass

    # Where a blob came from, by registry host (containerd keeps this as
    # distribution.source labels): a push to that registry mounts the blob
    # from there instead of uploading it again.
    def _sources_path(self, digest: str) -> str:
        return os.path.join(self.sources_dir, check_digest(digest)[len("sha256:"):])

    def sources(self, digest: str) -> dict:
        """{registry host: [repository, ...]} the blob was pulled from."""
        try:
            with open(self._sources_path(digest), "rb") as f:
                found = json.load(f)
        except (FileNotFoundError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    def add_source(self, digest: str, host: str, repo: str) -> None:
        with self._sources_lock:
            found = self.sources(digest)
            repos = found.setdefault(host, [])
            if repo in repos:
                return
            repos.append(repo)
            atomic_write(self._sources_path(digest), json.dumps(found), mode=0o600, durable=False)
