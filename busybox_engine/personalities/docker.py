"""docker: the client for the Docker Engine API (busybox_engine.cli)."""

FAST_EXIT = True  # see dispatch.run_personality


def main(argv: list) -> int:
    from busybox_engine.cli.main import main as run
    return run(argv)
