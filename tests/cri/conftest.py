import json
import lzma
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

    def start(self, *extra):
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
    yield Cri(containerd, crictl_binary, tmp_path)
