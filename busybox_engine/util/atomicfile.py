"""Crash-safe small files: written beside the target under a unique name,
then renamed over it, so a kill -9 at any moment leaves the old file or the
new one, never half of one."""
import os


def atomic_write(path: str, data: bytes | str, mode: int = 0o644, durable: bool = True,
                 exclusive: bool = False) -> None:
    """Replace path with data. durable: fsync the file and its directory
    (skip it for what lives on tmpfs or need not survive a power cut).
    exclusive: never replace; FileExistsError if path exists (the file is
    linked into place, which the kernel refuses for a taken name)."""
    if isinstance(data, str):
        data = data.encode()
    parent = os.path.dirname(path) or "."
    # unique per writer: threads and processes may write the same path
    tmp = os.path.join(parent, f".{os.path.basename(path)}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        dfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
