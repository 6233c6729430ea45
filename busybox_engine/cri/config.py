"""The CRI endpoint's settings (containerd's `--cri-*` flags)."""
import os
from dataclasses import asdict, dataclass, field

DEFAULT_CNI_CONF_DIR = "/etc/cni/net.d"
DEFAULT_CNI_BIN_DIRS = ("/opt/cni/bin", "/usr/lib/cni")


@dataclass
class CriConfig:
    address: str = ""                   # the gRPC socket; "" serves no CRI
    explicit: bool = False              # address given by the user: taken or fail
    root: str = ""                      # containerd's --root: the CRI's own state goes in root/cri
    state: str = ""                     # containerd's --state
    cni_conf_dir: str = DEFAULT_CNI_CONF_DIR
    cni_bin_dirs: list = field(default_factory=lambda: list(DEFAULT_CNI_BIN_DIRS))
    registry_config_path: str = ""      # certs.d/HOST/hosts.toml, as containerd's config_path
    sandbox_image: str = ""             # "" : the pause personality of our own executable
    stream_address: str = "127.0.0.1"   # where exec/attach/port-forward URLs point
    stream_port: int = 0                # 0: a free port

    def describe(self) -> dict:
        """What `crictl info` shows under "config"."""
        d = asdict(self)
        d["cni_bin_dirs"] = [p for p in self.cni_bin_dirs if os.path.isdir(p)] or self.cni_bin_dirs
        return d
