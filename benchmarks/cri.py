#!/usr/bin/env python3
"""The CRI, ours beside Debian's containerd 1.6 with its CRI plugin (its Go
shim and Go runc), each with its own root, state, sockets and CNI
configuration (a bridge of Debian's containernetworking-plugins), driven
by crictl 1.29 in the same run:
  - `crictl runp` -> `create` -> `start` -> `stop` -> `rm` of a busybox
    container in a new pod, median;
  - memory (PSS, and RSS) of the daemon side idle and with 5 pods of one
    container each: containerd, its shims and the pods' pause processes
    (the containers' own processes are left out). Debian's containerd gets
    a busybox `sleep` as its sandbox image (there is no registry.k8s.io
    here); ours runs its own pause personality.

    python benchmarks/cri.py [--bindir DIR] [-n 10] [--pods 5]
"""
import argparse
import json
import lzma
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import TOP, install, memory, reap_all, wait_socket  # noqa: E402

from tests.fixtures.bundles import make_rootfs  # noqa: E402
from tests.fixtures.images import docker_archive  # noqa: E402

CRICTL_XZ = os.path.join(TOP, "..", "shared", "tools", "crictl-1.29.0-linux-amd64.xz")
BRIDGE, SUBNET = "bbtbench0", "10.215.0.0/24"
SANDBOX_IMAGE = "registry.k8s.io/pause:3.6"


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def all_pids() -> list:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


class Side:
    """One containerd with a CRI endpoint, and crictl pointed at it."""

    def __init__(self, name: str, tmp: str, crictl: str):
        self.name = name
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.cni = os.path.join(self.dir, "net.d")
        os.makedirs(self.cni)
        with open(os.path.join(self.cni, "10-bench.conflist"), "w") as f:
            json.dump({"cniVersion": "0.4.0", "name": f"bench{name}", "plugins": [
                {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
                 "ipam": {"type": "host-local", "dataDir": os.path.join(self.dir, "ipam"),
                          "ranges": [[{"subnet": SUBNET}]]}},
                {"type": "portmap", "capabilities": {"portMappings": True}}, {"type": "loopback"}]}, f)
        self.crictl_path = crictl
        self.proc = None

    def crictl(self, *args) -> str:
        ep = f"unix://{self.cri_sock}"
        r = subprocess.run([self.crictl_path, "--runtime-endpoint", ep, "--image-endpoint", ep, "--timeout", "60s",
                            *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{self.name}: crictl {' '.join(args)}: {r.stderr.strip()[:400]}")
        return r.stdout.strip()

    def stop(self) -> None:
        for pod in self.crictl("pods", "-q").split():
            self.crictl("rmp", "-f", pod)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
        for ctrl in os.listdir("/sys/fs/cgroup"):
            for _ in range(50):
                try:
                    os.rmdir(os.path.join("/sys/fs/cgroup", ctrl, "k8s.io"))
                    break
                except (FileNotFoundError, NotADirectoryError):
                    break
                except OSError:
                    time.sleep(0.02)

    def daemon_pids(self) -> list:
        """containerd, its shims (and our shim zygote), the pods' pause processes."""
        marker = self.dir
        shims = [p for p in all_pids() if comm(p).startswith(("containerd-shim", "shim-zygote"))
                 and marker in cmdline(p)]
        if self.name == "ours":   # our shims name their state directory, the zygote is containerd's child
            shims += [p for p in all_pids() if ppid(p) == self.proc.pid and p not in shims]
        pauses = [p for p in all_pids() if ppid(p) in shims and comm(p) in ("pause", "sleep")
                  and self._is_sandbox(p)]
        return [self.proc.pid] + sorted(set(shims)) + pauses

    def _is_sandbox(self, pid: int) -> bool:
        return comm(pid) == "pause" or "100000" in cmdline(pid)


class Go(Side):
    def start(self, images: list) -> "Go":
        d = self.dir
        self.sock = os.path.join(d, "c.sock")
        self.cri_sock = self.sock
        cfg = os.path.join(d, "config.toml")
        with open(cfg, "w") as f:
            f.write(f'version = 2\nroot = "{d}/root"\nstate = "{d}/state"\n[grpc]\n  address = "{self.sock}"\n'
                    f'[ttrpc]\n  address = "{self.sock}.ttrpc"\n[debug]\n  address = ""\n[metrics]\n  address = ""\n'
                    f'[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "{SANDBOX_IMAGE}"\n'
                    # this host may not lower an oom_score_adj (no CAP_SYS_RESOURCE)
                    f'  restrict_oom_score_adj = true\n'
                    f'  [plugins."io.containerd.grpc.v1.cri".cni]\n    bin_dir = "/usr/lib/cni"\n'
                    f'    conf_dir = "{self.cni}"\n')
        self.proc = subprocess.Popen(["containerd", "--config", cfg], stderr=open(os.path.join(d, "log"), "wb"))
        wait_socket(self.sock)
        for archive in images:
            subprocess.run(["ctr", "-a", self.sock, "-n", "k8s.io", "images", "import", archive],
                           check=True, capture_output=True)
        time.sleep(1)
        return self


class Ours(Side):
    def start(self, bindir: str, images: list) -> "Ours":
        d = self.dir
        self.sock = os.path.join(d, "c.sock")
        self.cri_sock = os.path.join(d, "cri.sock")
        self.proc = subprocess.Popen([os.path.join(bindir, "containerd"), "--address", self.sock,
                                      "--root", f"{d}/root", "--state", f"{d}/state",
                                      "--cri-cni-conf-dir", self.cni], stderr=open(os.path.join(d, "log"), "wb"))
        wait_socket(self.sock)
        for archive in images[1:]:   # no sandbox image: our pause personality
            subprocess.run([os.path.join(bindir, "ctr"), "-a", self.sock, "-n", "k8s.io", "images", "import",
                            archive], check=True, capture_output=True)
        return self


VERBS = ("runp", "create", "start", "stop", "rm")


def pod_lifecycle(side: Side, tmp: str, i: int) -> dict:
    """Seconds per verb of one pod's lifecycle."""
    pod = os.path.join(tmp, f"{side.name}-pod{i}.json")
    with open(pod, "w") as f:
        json.dump({"metadata": {"name": f"bench{i}", "namespace": "default", "uid": f"{side.name}-{i}"},
                   "log_directory": os.path.join(tmp, "logs", side.name, str(i)), "linux": {}}, f)
    # a container that runs until stopped (containerd 1.6 loses the shim of
    # one that exits at once, then fails the stop: "ttrpc: closed")
    ctr = os.path.join(tmp, "ctr-sleep.json")
    took = {}

    def timed(verb, *args):
        t0 = time.perf_counter()
        out = side.crictl(verb, *args)
        took[verb] = time.perf_counter() - t0
        return out
    pid = timed("runp", pod)
    cid = timed("create", pid, ctr, pod)
    timed("start", cid)
    timed("stop", cid)
    timed("rm", cid)
    side.crictl("rmp", "-f", pid)
    return took


def pods_running(side: Side, tmp: str, n: int) -> None:
    ctr = os.path.join(tmp, "ctr-sleep.json")
    for i in range(n):
        pod = os.path.join(tmp, f"{side.name}-run{i}.json")
        with open(pod, "w") as f:
            json.dump({"metadata": {"name": f"run{i}", "namespace": "default", "uid": f"{side.name}-run-{i}"},
                       "log_directory": os.path.join(tmp, "logs", side.name, f"run{i}"), "linux": {}}, f)
        pid = side.crictl("runp", pod)
        side.crictl("start", side.crictl("create", pid, ctr, pod))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir", help="our installed binaries (default: dist/busybox-engine installed)")
    p.add_argument("-n", type=int, default=10, help="pod lifecycles per runtime")
    p.add_argument("--pods", type=int, default=5, help="pods running for the memory figure")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory (logs) on failure")
    args = p.parse_args()
    if shutil.which("containerd") is None or not os.path.isdir("/usr/lib/cni"):
        raise SystemExit("needs Debian's containerd and containernetworking-plugins")
    tmp = tempfile.mkdtemp(prefix="bbe-cri-")
    try:
        crictl = os.path.join(tmp, "crictl")
        with lzma.open(CRICTL_XZ) as src, open(crictl, "wb") as dst:
            dst.write(src.read())
        os.chmod(crictl, 0o755)
        bindir = install(tmp, args.bindir)
        rootfs = make_rootfs(os.path.join(tmp, "rootfs"))
        images = [docker_archive(rootfs, os.path.join(tmp, "pause.tar"), tag=SANDBOX_IMAGE, cmd=("sleep", "100000")),
                  docker_archive(rootfs, os.path.join(tmp, "busybox.tar"), tag="busybox:latest", cmd=("sh",))]
        # not the sandbox's 100000: the containers' own processes stay out of the figure
        for name, command in (("ctr-sleep.json", ["sleep", "99999"]),):
            with open(os.path.join(tmp, name), "w") as f:
                json.dump({"metadata": {"name": "c"}, "image": {"image": "busybox"}, "command": command,
                           "log_path": "c.log", "linux": {}}, f)
        results = {}
        for side in (Go("go", tmp, crictl), Ours("ours", tmp, crictl)):
            if isinstance(side, Go):
                side.start(images)
            else:
                side.start(bindir, images)
            try:
                pod_lifecycle(side, tmp, 0)   # warm-up, not counted
                runs = [pod_lifecycle(side, tmp, i) for i in range(1, args.n + 1)]
                times = [sum(r.values()) for r in runs]
                verbs = {v: statistics.median(r[v] for r in runs) for v in VERBS}
                time.sleep(2)
                idle = memory(side.daemon_pids())
                pods_running(side, tmp, args.pods)
                time.sleep(2)
                pids = side.daemon_pids()
                loaded = memory(pids)
                results[side.name] = (statistics.median(times), idle, loaded, len(pids), verbs)
            finally:
                side.stop()
                reap_all()
        go, ours = results["go"], results["ours"]
        print(f"crictl runp -> create -> start -> stop -> rm of a busybox container, median of {args.n}")
        print(f"  containerd 1.6 + CRI plugin + Go shim + Go runc   {go[0] * 1e3:8.1f} ms   1.00x")
        print(f"  ours                                              {ours[0] * 1e3:8.1f} ms   {ours[0] / go[0]:.2f}x")
        print("  per verb, median ms (crictl's own start-up included):  " + "  ".join(
            f"{v} {go[4][v] * 1e3:.0f}/{ours[4][v] * 1e3:.0f}" for v in VERBS) + "  (1.6/ours)")
        print("memory of the daemon side (containerd, shims, pause processes), RSS / PSS in MB")
        for label, i in (("idle", 1), (f"{args.pods} pods of one container", 2)):
            for name, r in (("containerd 1.6 + CRI plugin", go), ("ours", ours)):
                ratio = r[i][1] / go[i][1]
                print(f"  {label:<24} {name:<28} {r[i][0]:7.1f} / {r[i][1]:6.1f}   PSS {ratio:.2f}x"
                      + (f"   ({r[3]} processes)" if i == 2 else ""))
    except BaseException:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
            tmp = None
        raise
    finally:
        reap_all()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
