"""runc: the OCI runtime's command line (runc 1.1 compatible).

Lean on purpose: containerd's shim and dockerd run this for every container
operation, so only the command that runs is imported.
"""
FAST_EXIT = True  # see dispatch.run_personality


def main(argv: list) -> int:
    if argv == ["--version"] or argv == ["-v"]:
        import sys
        from busybox_engine.runtime.version import version_text
        sys.stdout.write(version_text())
        return 0
    from busybox_engine.runtime.cli import main as cli_main
    return cli_main(argv)
