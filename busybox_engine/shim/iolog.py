"""Container output in Docker's json-file format, with size-based rotation.

One JSON object a line, compact as Docker writes it:
{"log":"...\\n","stream":"stdout","time":RFC3339Nano}.
Lines are cut at newlines; a line longer than 16 KiB goes out in pieces, as
Docker does, so a container printing without newlines cannot grow memory.
"""
import os

from busybox_engine.core_pyx.jsonlog import encode_line  # Docker's jsonlog escaping, in C
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
        # lines are views into buf, cut by offset: re-slicing what is left
        # after each line copied a 1 MiB read 64 times over
        view = memoryview(buf)
        lines = []
        i, n = 0, len(buf)
        while i < n:
            nl = buf.find(b"\n", i, min(n, i + MAX_LINE))
            if nl >= 0:
                lines.append(view[i:nl + 1])
                i = nl + 1
            elif n - i >= MAX_LINE:
                lines.append(view[i:i + MAX_LINE])
                i += MAX_LINE
            else:
                break
        self.partial[stream] = bytes(view[i:]) if i < n else b""
        self._emit(stream, lines)

    def flush(self, stream: str) -> None:
        """At EOF: what is left of a line without a newline goes out as is."""
        if self.partial[stream]:
            self._emit(stream, [self.partial[stream]])
            self.partial[stream] = b""

    def _emit(self, stream: str, lines: list) -> None:
        if not lines:
            return
        now = rfc3339nano().encode()
        name = stream.encode()
        encoded = [encode_line(line, name, now) for line in lines]
        if not self.max_size:
            self._write(b"".join(encoded))
            return
        # rotated between lines, as Docker does: no file grows past max_size
        # by more than one line however much came in one read
        batch, size = [], self.size
        for e in encoded:
            if size + len(e) > self.max_size and size > 0:
                if batch:
                    self._write(b"".join(batch))
                    batch = []
                self._rotate()
                size = 0
            batch.append(e)
            size += len(e)
        if batch:
            self._write(b"".join(batch))

    def _write(self, out: bytes) -> None:
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
