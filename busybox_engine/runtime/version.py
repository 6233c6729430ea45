"""`runc --version`'s text, outside the cli package: importing that package
(flags, errors, the dispatcher) would cost every `--version` a millisecond."""
import sys

from busybox_engine import __version__

SPEC_VERSION = "1.1.0"


def version_text() -> str:
    from busybox_engine._build_info import BUILD_ID
    return (f"runc version {__version__}\ncommit: busybox-engine-{BUILD_ID}\n"
            f"spec: {SPEC_VERSION}\npython: {sys.version.split()[0]}\n")
