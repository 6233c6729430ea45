"""dockerd: the Docker Engine API server."""
import sys

from busybox_engine import __version__


def main(argv: list) -> int:
    if argv and argv[0] in ("--version", "-v"):
        from busybox_engine._build_info import BUILD_ID
        sys.stdout.write(f"Docker version {__version__}, build {BUILD_ID}\n")
        return 0
    from busybox_engine.api import config, server
    try:
        cfg = config.load(argv)
    except config.ConfigError as e:
        sys.stderr.write(f"dockerd: {e}\n")
        return 1
    return server.run(cfg)
