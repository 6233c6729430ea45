"""Layer streams by media type: gzip, zstd or plain tar; and their digests."""
import gzip
import hashlib

from busybox_engine.rpc.errors import FailedPrecondition


def decompressed(f, media_type: str):
    """A file-like object of the tar inside a layer blob opened as f."""
    if media_type.endswith("gzip"):
        return gzip.GzipFile(fileobj=f)
    if media_type.endswith("zstd"):
        import zstandard
        return zstandard.ZstdDecompressor().stream_reader(f)
    return f


class HashingReader:
    """A stream that hashes what is read through it, and refuses to give
    more than `limit` bytes."""

    def __init__(self, f, limit: int | None = None):
        self.f = f
        self.hash = hashlib.sha256()
        self.limit = limit
        self.total = 0

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.total += len(data)
        if self.limit is not None and self.total > self.limit:
            raise FailedPrecondition(f"layer expands to more than {self.limit} bytes: a decompression bomb")
        self.hash.update(data)
        return data

    def drain(self) -> None:
        """Read to the end: tar stops at its end marker, the digest covers all."""
        while self.read(1 << 20):
            pass

    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()
