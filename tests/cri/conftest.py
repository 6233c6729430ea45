import json
import lzma
import shlex
import os
import subprocess

import pytest

from tests.supervisor.conftest import binary_containerd, containerd  # noqa: F401 - shared fixtures
from tests.runtime.conftest import rootfs_template  # noqa: F401

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRICTL_XZ = os.path.join(TOP, "..", "shared", "tools", "crictl-1.29.0-linux-amd64.xz")


@pytest.fixture(scope="session")
def crictl_binary(tmp_path_factory):
    """crictl 1.29 (kubernetes-sigs/cri-tools), unpacked from ../shared/tools."""
    if not os.path.exists(CRICTL_XZ):
        pytest.fail(f"{CRICTL_XZ} is missing: crictl comes from the shared tools")
    path = tmp_path_factory.mktemp("crictl") / "crictl"
    with lzma.open(CRICTL_XZ) as src, open(path, "wb") as dst:
        dst.write(src.read())
    os.chmod(path, 0o755)
    return str(path)


class Cri:
    """Our containerd with its CRI socket; crictl and a gRPC client on it."""

    def __init__(self, containerd, crictl_path, tmp_path):
        self.containerd = containerd
        self.crictl_path = crictl_path
        self.sock = str(tmp_path / "cri.sock")
        self.cni_dir = tmp_path / "net.d"
        self.cni_dir.mkdir()
        self.started = False

    def remove_pods(self) -> None:
        """What a failed test left: every pod (its containers, network, netns)."""
        if not self.started or self.containerd.proc is None or self.containerd.proc.popen.poll() is not None:
            return
        try:
            for item in self.call("RuntimeService/ListPodSandbox").items:
                self.call("RuntimeService/RemovePodSandbox", pod_sandbox_id=item.id)
        except Exception as e:  # noqa: BLE001 - cleanup goes on; the test has its own failure
            print(f"removing pods after the test: {e}")

    def start(self, *extra):
        self.started = True
        self.client = self.containerd.start("--cri-address", self.sock,
                                            "--cri-cni-conf-dir", str(self.cni_dir), *extra)
        return self

    def crictl(self, *args, timeout=120, check=True):
        endpoint = f"unix://{self.sock}"
        r = subprocess.run([self.crictl_path, "--runtime-endpoint", endpoint, "--image-endpoint", endpoint,
                            "--timeout", "60s", *args], capture_output=True, text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, f"crictl {' '.join(args)}: {r.stderr}"
        return r

    def crictl_json(self, *args):
        return json.loads(self.crictl(args[0], "-o", "json", *args[1:]).stdout)

    def call(self, method: str, **fields):
        """One unary call (`RuntimeService/Version`, ...) with our own gRPC
        client; the reply message, or grpclib's GRPCError."""
        from tests.cri.client import call
        return call(self.sock, method, **fields)


@pytest.fixture
def cri(containerd, crictl_binary, tmp_path):  # noqa: F811
    c = Cri(containerd, crictl_binary, tmp_path)
    yield c
    c.remove_pods()


BRIDGE, SUBNET = "bbtcri0", "10.214.0.0/24"


def _cni_rules() -> set:
    out = set()
    for table in ("nat", "filter"):
        p = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True)
        out |= {f"{table}: {line}" for line in p.stdout.splitlines() if "CNI-" in line}
    return out


class Pod:
    """crictl's side of a pod: configs written to files, ids kept."""

    def __init__(self, cri, tmp_path, name="p1", **extra):
        self.cri = cri
        self.logs = tmp_path / f"logs-{name}"
        self.logs.mkdir()
        self.config = {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "attempt": 0},
                       "hostname": name, "log_directory": str(self.logs), "linux": {}, **extra}
        self.path = tmp_path / f"pod-{name}.json"
        self.path.write_text(json.dumps(self.config))
        self.tmp = tmp_path
        self.id = ""

    def run(self) -> "Pod":
        self.id = self.cri.crictl("runp", str(self.path)).stdout.strip()
        return self

    def container(self, name: str, command: list, image: str = "busybox", start: bool = True, **extra) -> str:
        config = {"metadata": {"name": name}, "image": {"image": image}, "command": command,
                  "log_path": f"{name}/0.log", "linux": {}, **extra}
        path = self.tmp / f"ctr-{self.config['metadata']['name']}-{name}.json"
        path.write_text(json.dumps(config))
        cid = self.cri.crictl("create", self.id, str(path), str(self.path)).stdout.strip()
        if start:
            self.cri.crictl("start", cid)
        return cid


@pytest.fixture
def cni_net(cri, tmp_path):
    """A CNI bridge network (bridge, host-local, portmap, loopback from
    Debian's containernetworking-plugins) in the test's directory; the
    bridge and every CNI rule go with the test."""
    rules_before = _cni_rules()
    ipam = tmp_path / "ipam"
    (cri.cni_dir / "10-test.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "bbtpods", "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
             "ipam": {"type": "host-local", "dataDir": str(ipam), "ranges": [[{"subnet": SUBNET}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "loopback"}]}))
    yield ipam
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
    left = _cni_rules() - rules_before
    for rule in left:   # the host stays clean even when the test fails
        table, _, line = rule.partition(": ")
        if line.startswith("-A "):
            subprocess.run(["iptables", "-w", "-t", table, "-D", *shlex.split(line)[1:]], capture_output=True)
    for rule in left:
        table, _, line = rule.partition(": ")
        if line.startswith("-N "):
            subprocess.run(["iptables", "-w", "-t", table, "-X", line.split()[1]], capture_output=True)
    # portmap's own chains, shared by every pod of the host, stay as they
    # do with containerd; a pod's own rules (CNI-DN-..., CNI-SN-...) must not
    shared = ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK")
    left = [r for r in left if not any(f"-N {c}" in r or f"-A {c} " in r or r.endswith(f"-j {c}")
                                       for c in shared)]
    assert not left, f"CNI rules left behind: {sorted(left)}"


@pytest.fixture
def busybox_image(cri, rootfs_template, tmp_path):
    """docker.io/library/busybox:latest in namespace k8s.io (imported with ctr)."""
    from tests.fixtures.images import docker_archive
    archive = docker_archive(rootfs_template, str(tmp_path / "busybox.tar"), tag="busybox:latest")

    def load():
        c = cri.containerd
        r = subprocess.run(c.engine.argv("ctr", "-a", str(c.sock), "-n", "k8s.io", "images", "import", archive),
                           env=c.engine.env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return "docker.io/library/busybox:latest"
    return load
