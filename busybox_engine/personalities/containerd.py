"""containerd: container lifecycle, images, content, snapshots, events."""
import os
import sys

from busybox_engine import __version__


def main(argv: list) -> int:
    if argv and argv[0] in ("--version", "-v"):
        from busybox_engine._build_info import BUILD_ID
        sys.stdout.write(f"containerd busybox-engine {__version__} {BUILD_ID}\n")
        return 0
    if argv[:1] == ["--unpack-layer"]:  # a pull's worker (see image/unpack_worker.py)
        from busybox_engine.image.unpack_worker import main as unpack_layer
        return unpack_layer(argv[1:])
    import argparse
    from busybox_engine.containerd import server as daemon
    from busybox_engine.cri.config import DEFAULT_CNI_BIN_DIRS, DEFAULT_CNI_CONF_DIR, CriConfig
    p = argparse.ArgumentParser(prog="containerd", description="container supervisor "
                                "serving msgpack-RPC on a unix socket")
    p.add_argument("-c", "--config", default="",
                   help="a config file in containerd's TOML layout (version 2 or 3): root, state, "
                        "grpc.address and the CRI plugin's settings; flags win over it")
    p.add_argument("-a", "--address", default=None,
                   help=f"unix socket to serve on (default: {daemon.DEFAULT_ADDRESS})")
    p.add_argument("--root", default=None,
                   help=f"persistent state directory (default: {daemon.DEFAULT_ROOT})")
    p.add_argument("--state", default=None,
                   help=f"runtime state directory (default: {daemon.DEFAULT_STATE})")
    p.add_argument("--registry-config", default="",
                   help="JSON like dockerd's daemon.json: insecure-registries, registry-mirrors")
    cri = p.add_argument_group("CRI", "the Kubernetes Container Runtime Interface (gRPC) for kubelet and crictl")
    cri.add_argument("--cri-address", default=None,
                     help="its unix socket, mode 0600 (default: cri.sock beside --address); '' serves none")
    cri.add_argument("--cri-cni-conf-dir", default=None,
                     help=f"CNI network configurations (default: {DEFAULT_CNI_CONF_DIR})")
    cri.add_argument("--cri-cni-bin-dir", action="append", default=None,
                     help=f"CNI plugins; may repeat (default: {', then '.join(DEFAULT_CNI_BIN_DIRS)})")
    cri.add_argument("--cri-registry-config-path", default=None,
                     help="per-registry hosts.toml files in containerd's certs.d layout")
    cri.add_argument("--cri-sandbox-image", default=None,
                     help="the pause image of pods (default: a pause process of this executable)")
    cri.add_argument("--cri-stream-address", default=None,
                     help="address of the exec/attach/port-forward server (default: 127.0.0.1, a free port)")
    p.add_argument("-l", "--log-level", default="info")
    p.add_argument("-v", "--version", action="store_true", help="print the version")
    args = p.parse_args(argv)
    _settle(args, daemon)
    if args.address.startswith("unix://"):
        args.address = args.address[len("unix://"):]
    cri_address = args.cri_address
    if cri_address is None:
        cri_address = os.path.join(os.path.dirname(os.path.abspath(args.address)), "cri.sock")
    elif cri_address.startswith("unix://"):
        cri_address = cri_address[len("unix://"):]
    host, _, port = args.cri_stream_address.rpartition(":") if args.cri_stream_address.count(":") == 1 \
        else (args.cri_stream_address, "", "0")
    cri = CriConfig(address=cri_address, explicit=args.cri_address is not None, root=args.root,
                    state=args.state, cni_conf_dir=args.cri_cni_conf_dir,
                    cni_bin_dirs=args.cri_cni_bin_dir,
                    registry_config_path=args.cri_registry_config_path, sandbox_image=args.cri_sandbox_image,
                    stream_address=host, stream_port=int(port) if port.isdigit() else 0)
    return daemon.run(daemon.Config(address=args.address, root=args.root, state=args.state,
                                    registry_config=args.registry_config, cri=cri))


def _settle(args, daemon) -> None:
    """Each setting from its flag, else from --config's file, else its default."""
    from busybox_engine.cri.config import DEFAULT_CNI_BIN_DIRS, DEFAULT_CNI_CONF_DIR
    from_file = {}
    if args.config:
        from busybox_engine.containerd.config_file import ConfigError, load
        try:
            from_file = load(args.config)
        except ConfigError as e:
            sys.stderr.write(f"containerd: {e}\n")
            raise SystemExit(1) from None
    defaults = {"address": daemon.DEFAULT_ADDRESS, "root": daemon.DEFAULT_ROOT, "state": daemon.DEFAULT_STATE,
                "cri_cni_conf_dir": DEFAULT_CNI_CONF_DIR, "cri_cni_bin_dir": list(DEFAULT_CNI_BIN_DIRS),
                "cri_registry_config_path": "", "cri_sandbox_image": "", "cri_stream_address": "127.0.0.1"}
    for name, default in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, from_file.get(name, default))
