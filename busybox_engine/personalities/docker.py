"""docker: the client for the Docker Engine API (busybox_engine.cli)."""

FAST_EXIT = True  # see dispatch.run_personality


def main(argv: list) -> int:
    if argv == ["--version"] or argv == ["-v"]:
        # scripts ask this of every docker they find: no client to load for it
        import sys
        from busybox_engine import __version__
        from busybox_engine._build_info import BUILD_ID
        sys.stdout.write(f"Docker version {__version__}, build {BUILD_ID}\n")
        return 0
    from busybox_engine.cli.main import main as run
    return run(argv)
