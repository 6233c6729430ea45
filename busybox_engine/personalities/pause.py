"""pause: a pod sandbox's first process. It holds the pod's namespaces
open, reaps what is orphaned to it (PID 1 of a shared PID namespace) and
exits 0 on SIGTERM or SIGINT, as Kubernetes' pause image does. One runs
per pod for its whole life: it imports next to nothing (_signal, not the
signal module and its enums)."""
import os
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
    import _signal
    _signal.signal(_signal.SIGINT, lambda *_: os._exit(0))
    _signal.signal(_signal.SIGTERM, lambda *_: os._exit(0))
    _signal.signal(_signal.SIGCHLD, _reap)
    while True:
        _signal.pause()
