"""One layer unpacked in a process of its own (`containerd --unpack-layer
BLOB MEDIA_TYPE DEST DIFF_ID [SIZE]`): layers of one pull unpack side by
side on every core instead of taking turns on one interpreter lock, and a
layer's parser cannot hurt the daemon. BLOB `-` is stdin: a pull feeds
the blob's bytes as they arrive (Stream), so the layer unpacks while it
downloads. The uncompressed digest is checked in the same pass. Exit 0,
or 1 with the error as JSON ({"code", "message"}) on stdout."""
import json
import os
import subprocess
import sys

from busybox_engine.rpc.errors import FailedPrecondition, Internal, RPCError, from_wire


# gzip cannot expand data more than 1032 times; a layer that does (zstd can,
# by far) is a decompression bomb, not an image
MAX_EXPANSION = 1100
EXPANSION_FLOOR = 1 << 20


def unpack_verified(blob: str, media_type: str, dest: str, diff_id: str, size: int | None = None) -> None:
    from busybox_engine.image.compression import HashingReader, ReadAhead, decompressed
    from busybox_engine.image.unpack import unpack
    with open(0 if blob == "-" else blob, "rb", closefd=blob != "-") as f:
        limit = None
        if media_type.endswith(("gzip", "zstd")):
            limit = (os.fstat(f.fileno()).st_size if size is None else size) * MAX_EXPANSION + EXPANSION_FLOOR
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
    if len(argv) not in (4, 5) or (len(argv) == 5 and not argv[4].isdigit()):
        sys.stderr.write("usage: containerd --unpack-layer BLOB|- MEDIA_TYPE DEST DIFF_ID [SIZE]\n")
        return 2
    try:
        unpack_verified(*argv[:4], int(argv[4]) if len(argv) == 5 else None)
        return 0
    except RPCError as e:
        err = e
    except Exception as e:  # noqa: BLE001 - a zlib or OS error: reported, not a traceback
        err = Internal(f"{type(e).__name__}: {e}")
    sys.stdout.write(json.dumps(err.to_wire()))
    return 1


def _spawn(args: list, stdin) -> subprocess.Popen:
    from busybox_engine.selfexec import personality_command
    path, prefix, env = personality_command("containerd")
    return subprocess.Popen(prefix + ["--unpack-layer", *args], executable=path, env=env, stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _result(proc: subprocess.Popen, out: bytes, err: bytes) -> None:
    if proc.returncode == 0:
        return
    try:
        raise from_wire(json.loads(out))
    except ValueError:
        raise Internal(f"layer unpack failed (status {proc.returncode}): "
                       f"{err.decode(errors='replace').strip()[-300:]}") from None


def run(blob: str, media_type: str, dest: str, diff_id: str) -> None:
    """unpack_verified() in a worker process; its error raised here."""
    proc = _spawn([blob, media_type, dest, diff_id], subprocess.DEVNULL)
    _result(proc, *proc.communicate())


class Stream:
    """A worker unpacking a layer from its stdin while the blob downloads:
    feed() it the bytes as the content writer takes them. If the download
    starts over (restart()), what the worker has is not the layer: it is
    stopped and finish() unpacks the committed blob instead."""

    def __init__(self, media_type: str, dest: str, diff_id: str, size: int):
        self.args = (media_type, dest, diff_id)
        self.proc = _spawn(["-", media_type, dest, diff_id, str(size)], subprocess.PIPE)
        try:
            import fcntl
            fcntl.fcntl(self.proc.stdin.fileno(), 1031, 1 << 20)  # F_SETPIPE_SZ: fewer wake-ups
        except OSError:
            pass
        self.restarted = False
        self.fed = 0
        self.closed = False  # the worker stopped reading (it failed: finish() tells why)

    def feed(self, data: bytes) -> None:
        if self.restarted or self.closed:
            return
        try:
            self.proc.stdin.write(data)
            self.fed += len(data)
        except BrokenPipeError:
            self.closed = True

    def restart(self) -> None:
        self.restarted = True

    def kill(self) -> None:
        self.proc.kill()
        self.proc.communicate()

    def finish(self, blob: str) -> None:
        """The download is complete and committed as blob: the worker's result."""
        if self.restarted or not self.fed:  # started over, or the blob was in already (another pull's)
            self.kill()
            import shutil
            dest = self.args[1]
            shutil.rmtree(dest)
            os.mkdir(dest, 0o755)
            run(blob, *self.args)
            return
        _result(self.proc, *self.proc.communicate())  # stdin closed: the worker reads to the end
