"""ctr: the operators' and tests' client of our containerd."""
FAST_EXIT = True  # see dispatch.run_personality


def main(argv: list) -> int:
    from busybox_engine.cli.ctr import main as ctr_main
    return ctr_main(argv)
