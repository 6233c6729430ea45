"""pause: a pod sandbox's first process. It holds the pod's namespaces
open, reaps what is orphaned to it (PID 1 of a shared PID namespace) and
exits 0 on SIGTERM or SIGINT, as Kubernetes' pause image does."""
import os
import signal
import sys


def _reap(signum, frame) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list) -> int:
    if argv and argv[0] in ("-v", "--version"):
        from busybox_engine import __version__
        sys.stdout.write(f"pause busybox-engine {__version__}\n")
        return 0
    if argv:
        sys.stderr.write("usage: pause [--version]\n")
        return 2
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        signal.pause()
