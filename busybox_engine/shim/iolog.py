"""Container output in Docker's json-file format, with size-based rotation.

One JSON object a line, compact as Docker writes it:
{"log":"...\\n","stream":"stdout","time":RFC3339Nano}.
Lines are cut at newlines; a line longer than 16 KiB goes out in pieces, as
Docker does, so a container printing without newlines cannot grow memory.
"""
import os

from busybox_engine.core_pyx.jsonlog import encode_chunk, encode_line  # Docker's jsonlog escaping, in C
from busybox_engine.util.timefmt import rfc3339nano

MAX_LINE = 16 * 1024


class JSONLog:
    def __init__(self, path: str, max_size: int = 0, max_files: int = 1):
        self.path = path
        self.max_size = max_size      # 0: never rotate
        self.max_files = max(1, max_files)
        self.partial = {"stdout": b"", "stderr": b""}
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        buf = self.partial[stream] + data if self.partial[stream] else data
        # every complete line of the read encoded in one C call
        out, used = encode_chunk(buf, stream.encode(), rfc3339nano().encode(), MAX_LINE)
        self.partial[stream] = buf[used:] if used < len(buf) else b""
        if out:
            self._put(out)

    def flush(self, stream: str) -> None:
        """At EOF: what is left of a line without a newline goes out as is."""
        if self.partial[stream]:
            self._put(encode_line(self.partial[stream], stream.encode(), rfc3339nano().encode()))
            self.partial[stream] = b""

    def _put(self, out: bytes) -> None:
        if not self.max_size or self.size + len(out) <= self.max_size:
            self._write(out)
            return
        # rotated between lines, as Docker does: no file grows past
        # max_size by more than one line however much came in one read
        # (two statements: Nuitka 4.3 fails to compile memoryview() in a tuple assignment)
        view = memoryview(out)
        i = 0
        while i < len(out):
            room = self.max_size - self.size
            cut = out.rfind(b"\n", i, i + room) + 1 if room > 0 else 0
            if cut <= i:
                if self.size > 0:
                    self._rotate()
                    continue
                cut = out.find(b"\n", i) + 1 or len(out)   # a line longer than a file
            self._write(view[i:cut])
            i = cut

    def _write(self, out) -> None:
        os.write(self.fd, out)
        self.size += len(out)

    def _rotate(self) -> None:
        os.close(self.fd)
        if self.max_files > 1:
            for i in range(self.max_files - 1, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                if os.path.exists(src):
                    os.rename(src, f"{self.path}.{i}")
        else:
            os.unlink(self.path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = 0

    def close(self) -> None:
        for stream in self.partial:
            self.flush(stream)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class CRILog:
    """Container output as kubelet reads it (the CRI log format), one line
    each: `RFC3339Nano stdout|stderr F|P text`. F ends a line, P is a piece
    of a longer one (16 KiB at most a piece, as containerd writes); "\\r\\n"
    counts as a line end. reopen() follows kubelet's rotation (it renames
    the file, then asks for a new one)."""

    def __init__(self, path: str, max_size: int = 0, max_files: int = 1):
        self.path = path
        self.partial = {"stdout": b"", "stderr": b""}
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    @staticmethod
    def _now() -> bytes:
        t = rfc3339nano()   # Go's RFC3339Nano has no trailing zeros
        head, frac = t[:-1].split(".")
        frac = frac.rstrip("0")
        return (f"{head}.{frac}Z" if frac else f"{head}Z").encode()

    def write(self, stream: str, data: bytes) -> None:
        buf = self.partial[stream] + data if self.partial[stream] else data
        prefix = self._now() + b" " + stream.encode() + b" "
        out, start = [], 0
        while True:
            nl = buf.find(b"\n", start)
            end = nl if nl >= 0 else len(buf)
            while end - start > MAX_LINE:
                out.append(prefix + b"P " + buf[start:start + MAX_LINE] + b"\n")
                start += MAX_LINE
            if nl < 0:
                break
            line = buf[start:nl]
            out.append(prefix + b"F " + (line[:-1] if line.endswith(b"\r") else line) + b"\n")
            start = nl + 1
        self.partial[stream] = buf[start:]
        if out:
            os.write(self.fd, b"".join(out))

    def flush(self, stream: str) -> None:
        if self.partial[stream]:
            line = self.partial[stream]
            self.partial[stream] = b""
            os.write(self.fd, self._now() + b" " + stream.encode() + b" F " + line + b"\n")

    def reopen(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        os.close(self.fd)
        self.fd = fd

    def close(self) -> None:
        for stream in self.partial:
            self.flush(stream)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
