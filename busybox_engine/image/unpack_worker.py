"""One layer unpacked in a process of its own (`containerd --unpack-layer
BLOB MEDIA_TYPE DEST DIFF_ID`): layers of one pull unpack side by side on
every core instead of taking turns on one interpreter lock, and a layer's
parser cannot hurt the daemon. The uncompressed digest is checked in the
same pass. Exit 0, or 1 with the error as JSON ({"code", "message"}) on
stdout."""
import json
import os
import subprocess
import sys

from busybox_engine.rpc.errors import FailedPrecondition, Internal, RPCError, from_wire


# gzip cannot expand data more than 1032 times; a layer that does (zstd can,
# by far) is a decompression bomb, not an image
MAX_EXPANSION = 1100
EXPANSION_FLOOR = 1 << 20


def unpack_verified(blob: str, media_type: str, dest: str, diff_id: str) -> None:
    from busybox_engine.image.compression import HashingReader, ReadAhead, decompressed
    from busybox_engine.image.unpack import unpack
    with open(blob, "rb") as f:
        limit = None
        if media_type.endswith(("gzip", "zstd")):
            limit = os.fstat(f.fileno()).st_size * MAX_EXPANSION + EXPANSION_FLOOR
        src = HashingReader(decompressed(f, media_type), limit)
        ahead = ReadAhead(src)  # decompressing and hashing the next chunks while this one unpacks
        try:
            unpack(ahead, dest)
            while ahead.read():  # tar stops at its end marker; the digest covers all
                pass
        finally:
            ahead.close()
    if src.digest() != diff_id:
        raise FailedPrecondition(f"layer {os.path.basename(blob)}: content does not match diff_id {diff_id}")


def main(argv: list) -> int:
    if len(argv) != 4:
        sys.stderr.write("usage: containerd --unpack-layer BLOB MEDIA_TYPE DEST DIFF_ID\n")
        return 2
    try:
        unpack_verified(*argv)
        return 0
    except RPCError as e:
        err = e
    except Exception as e:  # noqa: BLE001 - a zlib or OS error: reported, not a traceback
        err = Internal(f"{type(e).__name__}: {e}")
    sys.stdout.write(json.dumps(err.to_wire()))
    return 1


def run(blob: str, media_type: str, dest: str, diff_id: str) -> None:
    """unpack_verified() in a worker process; its error raised here."""
    from busybox_engine.selfexec import personality_command
    path, prefix, env = personality_command("containerd")
    r = subprocess.run(prefix + ["--unpack-layer", blob, media_type, dest, diff_id], executable=path,
                       env=env, stdin=subprocess.DEVNULL, capture_output=True)
    if r.returncode == 0:
        return
    try:
        raise from_wire(json.loads(r.stdout))
    except ValueError:
        raise Internal(f"layer unpack failed (status {r.returncode}): "
                       f"{r.stderr.decode(errors='replace').strip()[-300:]}") from None
