"""dockerd: the Docker Engine API server."""
import sys

from busybox_engine import __version__


def main(argv: list) -> int:
    if argv and argv[0] in ("--version", "-v"):
        from busybox_engine._build_info import BUILD_ID
        sys.stdout.write(f"Docker version {__version__}, build {BUILD_ID}\n")
        return 0
    import argparse
    from busybox_engine.api import server
    p = argparse.ArgumentParser(prog="dockerd", description="Docker Engine API daemon")
    p.add_argument("-H", "--host", action="append", dest="hosts",
                   help=f"socket to serve on, unix://PATH (default: {server.DEFAULT_HOST})")
    p.add_argument("--data-root", default=server.DEFAULT_DATA_ROOT)
    p.add_argument("--exec-root", default=server.DEFAULT_EXEC_ROOT)
    p.add_argument("-p", "--pidfile", default=server.DEFAULT_PIDFILE)
    p.add_argument("--containerd", default="",
                   help="containerd socket (default: start our own)")
    p.add_argument("-G", "--group", default="docker")
    p.add_argument("-D", "--debug", action="store_true")
    p.add_argument("-l", "--log-level", default="info")
    p.add_argument("-v", "--version", action="store_true")
    args = p.parse_args(argv)
    containerd = args.containerd
    if containerd.startswith("unix://"):
        containerd = containerd[len("unix://"):]
    return server.run(server.Config(hosts=args.hosts or [server.DEFAULT_HOST],
                                    data_root=args.data_root, exec_root=args.exec_root,
                                    pidfile=args.pidfile, containerd=containerd,
                                    group=args.group, debug=args.debug))
