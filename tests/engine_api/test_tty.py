"""`docker run -it`, `exec -it` and `attach` on a real pty, as a user types
into them: the echo comes back, the exit code too, ctrl-p ctrl-q detaches."""
import os
import pty
import select
import subprocess
import time

from tests.engine_api.conftest import CLIS


class Terminal:
    """The real docker CLI on a pty of its own."""

    def __init__(self, dockerd, *args, cli=None, argv=None, env=None):
        """argv (with env) runs another client, ours, in place of the real one."""
        self.master, slave = pty.openpty()
        env = dict(env or os.environ, DOCKER_HOST=dockerd.host, TERM="xterm")
        self.proc = subprocess.Popen(argv or [cli or CLIS[0], *args], stdin=slave, stdout=slave, stderr=slave,
                                     env=env, start_new_session=True)
        os.close(slave)
        self.seen = b""

    def expect(self, text: bytes, timeout: float = 15) -> bytes:
        deadline = time.time() + timeout
        while text not in self.seen:
            left = deadline - time.time()
            assert left > 0, f"{text!r} not seen; got {self.seen[-500:]!r}"
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    data = os.read(self.master, 4096)
                except OSError:
                    data = b""
                if not data:
                    assert text in self.seen, f"{text!r} not seen before EOF; got {self.seen[-500:]!r}"
                self.seen += data
        return self.seen

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float = 15) -> int:
        deadline = time.time() + timeout
        while self.proc.poll() is None and time.time() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.1)
            if r:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:
                    pass
        return self.proc.wait(timeout=1)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def test_run_it_shell_echo_and_exit_code(dockerd):
    for cli in CLIS:
        t = Terminal(dockerd, "run", "-it", "--rm", "--name", "shell", "busybox", "sh", cli=cli)
        try:
            t.expect(b"# ")
            t.type(b"echo $((6*7))\r")
            t.expect(b"42")
            t.type(b"stty size; tty\r")
            t.expect(b"/dev/pts/0")
            t.type(b"exit 3\r")
            assert t.wait() == 3, t.seen
        finally:
            t.close()
    assert dockerd.docker("ps", "-aq").stdout == ""


def test_exec_it_and_attach_detach_with_ctrl_p_ctrl_q(dockerd):
    assert dockerd.docker("run", "-dit", "--name", "bg", "busybox", "sh").returncode == 0
    t = Terminal(dockerd, "exec", "-it", "bg", "sh")
    try:
        t.expect(b"# ")
        t.type(b"echo in-exec; exit 4\r")
        t.expect(b"in-exec")
        assert t.wait() == 4
    finally:
        t.close()
    t = Terminal(dockerd, "attach", "bg")
    try:
        t.type(b"echo attached-$((1+1))\r")
        t.expect(b"attached-2")
        t.type(b"\x10\x11")          # ctrl-p ctrl-q: detach, the container runs on
        assert t.wait() == 1          # as the real CLI and dockerd end it (measured)
        assert b"read escape sequence" in t.seen
    finally:
        t.close()
    assert dockerd.docker("inspect", "-f", "{{.State.Running}}", "bg").stdout == "true\n"
    assert dockerd.docker("rm", "-f", "bg").returncode == 0
