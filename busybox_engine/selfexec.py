"""How one personality starts another of this same program."""
import os
import sys


def personality_command(name: str) -> tuple:
    """(path, argv prefix, env) that run personality `name` of this program."""
    if "__compiled__" in globals():
        # the standalone binary dispatches on argv[0]
        return os.readlink("/proc/self/exe"), [name], None
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = top + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return sys.executable, [sys.executable, "-m", "busybox_engine", name], env
