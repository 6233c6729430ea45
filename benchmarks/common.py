"""What the supervisor benchmarks share: our containerd and Debian's Go
containerd 1.6 started side by side in a scratch directory, and memory
read from /proc (RSS, and PSS, which splits shared pages among sharers)."""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TOP not in sys.path:
    sys.path.insert(0, TOP)


def install(tmp: str, bindir: str | None) -> str:
    """bindir, or the dist binary installed into a scratch bin directory."""
    if bindir:
        return bindir
    bindir = os.path.join(tmp, "bin")
    subprocess.run([os.path.join(TOP, "dist", "busybox-engine"), "--install", bindir], check=True)
    return bindir


def wait_socket(path: str, timeout: float = 20, proc=None) -> None:
    """Until something listens on path (or proc, if given, has exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{proc.args[0]} exited with status {proc.returncode}")
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return
        except OSError:
            time.sleep(0.002)
        finally:
            s.close()
    raise SystemExit(f"nothing listens on {path}")


def memory(pids: list) -> tuple:
    """(RSS, PSS) summed over pids, in MB."""
    rss = pss = 0
    for pid in pids:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return rss / 1024, pss / 1024


def per_process(pids: list) -> tuple:
    rss, pss = memory(pids)
    n = max(1, len(pids))
    return rss / n, pss / n


def parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def children_named(name: str) -> list:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == name:
                        out.append(int(pid))
            except OSError:
                pass
    return out


def reap_all() -> None:
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


class OurContainerd:
    def __init__(self, bindir: str, tmp: str):
        self.sock = os.path.join(tmp, "ours.sock")
        self.state = os.path.join(tmp, "ours-state")
        self.argv = [os.path.join(bindir, "containerd"), "--address", self.sock,
                     "--root", os.path.join(tmp, "ours-root"), "--state", self.state]
        self.ctr = [os.path.join(bindir, "ctr"), "-a", self.sock]
        self.proc = None

    def start(self) -> "OurContainerd":
        self.proc = subprocess.Popen(self.argv)
        wait_socket(self.sock)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait()

    def pids(self) -> list:
        """containerd and its shim zygote: what containerd itself costs."""
        from tests.helpers import children, comm
        return [self.proc.pid] + [p for p in children(self.proc.pid) if comm(p) == "shim-zygote"]


class GoContainerd:
    """Debian's containerd 1.6 (with its runc v2 shim and Go runc)."""

    def __init__(self, tmp: str):
        self.dir = os.path.join(tmp, "go")
        self.sock = os.path.join(self.dir, "c.sock")
        self.ctr = ["ctr", "-a", self.sock]
        self.proc = None

    def start(self) -> "GoContainerd":
        d = self.dir
        os.makedirs(d, exist_ok=True)
        cfg = os.path.join(d, "config.toml")
        with open(cfg, "w") as f:
            f.write(f'version = 2\nroot = "{d}/root"\nstate = "{d}/state"\n[grpc]\n  address = "{d}/c.sock"\n'
                    f'[ttrpc]\n  address = "{d}/c.sock.ttrpc"\n[debug]\n  address = ""\n'
                    f'[metrics]\n  address = ""\n')
        self.proc = subprocess.Popen(["containerd", "--config", cfg], stderr=subprocess.DEVNULL)
        wait_socket(self.sock)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
        for ctrl in os.listdir("/sys/fs/cgroup"):  # the namespace cgroup its containers left
            for _ in range(50):  # (their own cgroups may take a moment to go)
                try:
                    os.rmdir(os.path.join("/sys/fs/cgroup", ctrl, "default"))
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)

    def pids(self) -> list:
        return [self.proc.pid]


class Dockerd:
    """A running dockerd: its CLI and the environment that points it there."""

    def __init__(self, cli: str, env: dict):
        self.cli = cli
        self.env = env


@contextlib.contextmanager
def dockerd(extra: list = (), networking: bool = False):
    """Debian's dockerd 20.10 in scratch directories (no networking set up
    unless asked: then its docker0 and iptables chains, which outlive it);
    yields a Dockerd, or None where it is not installed."""
    import shutil
    import tempfile
    if not shutil.which("dockerd"):
        yield None
        return
    d = tempfile.mkdtemp(prefix="bbe-dk-")  # short: dockerd's containerd socket lives under it
    sock = os.path.join(d, "docker.sock")
    p = subprocess.Popen(["dockerd", "-H", f"unix://{sock}", "--data-root", f"{d}/data", "--exec-root",
                          f"{d}/exec", "--pidfile", f"{d}/pid",
                          *([] if networking else ["--bridge=none", "--iptables=false"]), *extra],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cli = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
    try:
        wait_socket(sock, 60)
        deadline = time.monotonic() + 60
        while subprocess.run([cli, "version"], capture_output=True, env=env).returncode != 0:
            if time.monotonic() > deadline:
                raise SystemExit("dockerd did not come up")
            time.sleep(0.2)
        dk = Dockerd(cli, env)
        dk.pid = p.pid
        dk.dir = d
        yield dk
    finally:
        p.terminate()
        p.wait()
        subprocess.run(["umount", "-R", f"{d}/data"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def our_dockerd(bindir: str, network: list = ("--bridge=none",)):
    """Our dockerd (starting its own containerd) in scratch directories,
    with no default bridge unless network gives its flags; yields a Dockerd
    whose pids() are dockerd and its containerd."""
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="bbe-ours-")
    sock = os.path.join(d, "docker.sock")
    p = subprocess.Popen([os.path.join(bindir, "dockerd"), *network, "-H", f"unix://{sock}", "--data-root", f"{d}/data",
                          "--exec-root", f"{d}/exec", "--pidfile", f"{d}/pid"],
                         stdout=subprocess.DEVNULL, stderr=open(f"{d}/dockerd.log", "wb"))
    cli = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
    try:
        wait_socket(sock, 60, p)
        deadline = time.monotonic() + 30
        while not os.path.exists(f"{d}/exec/containerd/containerd.sock"):
            if time.monotonic() > deadline:
                raise SystemExit("our containerd did not come up")
            time.sleep(0.05)
        wait_socket(f"{d}/exec/containerd/containerd.sock", 30)
        dk = Dockerd(cli, env)
        dk.pid = p.pid
        dk.dir = d
        yield dk
    finally:
        p.terminate()
        p.wait()
        for line in reversed(open("/proc/self/mountinfo").read().splitlines()):
            if line.split()[4].startswith(d):
                subprocess.run(["umount", "-l", line.split()[4]], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def daemon_pids(pid: int) -> list:
    """pid and its children (dockerd and the containerd it started)."""
    kids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if parent(int(p)) == pid:
                    kids.append(int(p))
            except OSError:
                pass
    return [pid] + kids
