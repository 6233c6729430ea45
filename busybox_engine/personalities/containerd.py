"""containerd: container lifecycle, images, content, snapshots, events."""
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
    p = argparse.ArgumentParser(prog="containerd", description="container supervisor "
                                "serving msgpack-RPC on a unix socket")
    p.add_argument("-a", "--address", default=daemon.DEFAULT_ADDRESS,
                   help="unix socket to serve on (default: %(default)s)")
    p.add_argument("--root", default=daemon.DEFAULT_ROOT,
                   help="persistent state directory (default: %(default)s)")
    p.add_argument("--state", default=daemon.DEFAULT_STATE,
                   help="runtime state directory (default: %(default)s)")
    p.add_argument("--registry-config", default="",
                   help="JSON like dockerd's daemon.json: insecure-registries, registry-mirrors")
    p.add_argument("-l", "--log-level", default="info")
    p.add_argument("-v", "--version", action="store_true", help="print the version")
    args = p.parse_args(argv)
    if args.address.startswith("unix://"):
        args.address = args.address[len("unix://"):]
    return daemon.run(daemon.Config(address=args.address, root=args.root,
                                    state=args.state, registry_config=args.registry_config))
