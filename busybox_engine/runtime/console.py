"""`runc run` with a terminal and no --console-socket: runc takes the pty
master itself and relays between it and its own stdio until the program
exits (raw mode and window size follow runc's own terminal, if it has one)."""
import fcntl
import os
import select
import socket
import termios


class Relay:
    def __init__(self):
        self.parent_end, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.child_end = child.detach()
        self.master = -1
        self.saved_tty = None

    def receive_master(self) -> None:
        os.close(self.child_end)
        self.child_end = -1
        _, fds, _, _ = socket.recv_fds(self.parent_end, 4096, 1)
        self.parent_end.close()
        self.master = fds[0]
        self.copy_size()

    def copy_size(self) -> None:
        if self.master >= 0 and os.isatty(0):
            size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)

    def relay_until_exit(self, pid: int) -> int:
        if os.isatty(0):
            import tty
            self.saved_tty = termios.tcgetattr(0)
            tty.setraw(0, termios.TCSANOW)   # not TCSAFLUSH: keep what was typed ahead, as Go's MakeRaw
        pidfd = os.pidfd_open(pid)
        inputs = [self.master, pidfd, 0]
        try:
            while True:
                try:
                    ready = select.select(inputs, [], [])[0]
                except InterruptedError:
                    continue
                if self.master in ready and not self._pump(self.master, 1):
                    inputs.remove(self.master)
                if 0 in ready and not self._pump(0, self.master):
                    inputs.remove(0)  # our stdin ended; the program goes on
                if pidfd in ready:
                    break
            os.set_blocking(self.master, False)
            while self._pump(self.master, 1):
                pass
        finally:
            os.close(pidfd)
            self.close()
        _, status = os.waitpid(pid, 0)
        from busybox_engine.util.procs import exit_code
        return exit_code(status)

    @staticmethod
    def _pump(src: int, dst: int) -> bool:
        try:
            data = os.read(src, 65536)
        except (BlockingIOError, OSError):  # EIO: the slave side is gone
            return False
        if not data:
            return False
        while data:
            n = os.write(dst, data)
            data = data[n:]
        return True

    def close(self) -> None:
        if self.saved_tty is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, self.saved_tty)
            self.saved_tty = None
        for fd in (self.master, self.child_end):
            if fd >= 0:
                os.close(fd)
        self.master = self.child_end = -1
        try:
            self.parent_end.close()
        except OSError:
            pass
