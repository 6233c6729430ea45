"""docker build: the Dockerfile's parser and word expansion (dockerfile,
words), the build context (context) and the instructions' effect on an
image config (instructions). dockerd's /build drives them (api/build)."""


def looks_like_archive(head: bytes) -> bool:
    """A file's first 512 bytes are a tar's, or gzip's, bzip2's or xz's
    (what ADD unpacks, and what `docker build -` takes for a context)."""
    return head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")) or head[257:262] == b"ustar"
