"""containerd-shim: the parent of one container (started by containerd)."""
import sys

from busybox_engine import __version__

FAST_EXIT = True  # see dispatch.run_personality


def main(argv: list) -> int:
    if argv and argv[0] in ("--version", "-v", "-version"):
        from busybox_engine._build_info import BUILD_ID
        sys.stdout.write(f"containerd-shim busybox-engine {__version__} {BUILD_ID}\n")
        return 0
    if argv[:1] == ["--zygote"] and len(argv) == 2:
        from busybox_engine.shim.zygote import serve as zygote
        return zygote(int(argv[1]))
    from busybox_engine.shim.config import main as shim_main
    return shim_main(argv)
