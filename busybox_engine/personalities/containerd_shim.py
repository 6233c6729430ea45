"""containerd-shim: the parent of one container (started by containerd)."""
import sys

from busybox_engine import __version__

FAST_EXIT = True  # see dispatch.run_personality


def main(argv: list) -> int:
    if argv and argv[0] in ("--version", "-v", "-version"):
        from busybox_engine._build_info import BUILD_ID
        sys.stdout.write(f"containerd-shim busybox-engine {__version__} {BUILD_ID}\n")
        return 0
    sys.stderr.write("containerd-shim: started by containerd, not by hand "
                     "(usage: containerd-shim --version)\n")
    return 1
