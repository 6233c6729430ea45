"""Layer streams by media type: gzip, zstd or plain tar."""
import gzip


def decompressed(f, media_type: str):
    """A file-like object of the tar inside a layer blob opened as f."""
    if media_type.endswith("gzip"):
        return gzip.GzipFile(fileobj=f)
    if media_type.endswith("zstd"):
        import zstandard
        return zstandard.ZstdDecompressor().stream_reader(f)
    return f
