"""OCI hooks: run with the state on stdin, env and timeout from the spec."""
import os
import time

from busybox_engine.runtime.errors import RuntimeFailure
from busybox_engine.util import fastjson as json
from busybox_engine.util.procs import exit_code, fork_child


def run_hooks(spec: dict, kind: str, state: dict) -> None:
    for i, hook in enumerate(((spec.get("hooks") or {}).get(kind)) or []):
        run_hook(hook, state, f"{kind} hook #{i}")


def run_hook(hook: dict, state: dict, what: str) -> None:
    import select
    path = hook["path"]
    args = hook.get("args") or [path]
    env = hook.get("env") or []
    timeout = hook.get("timeout")
    data = json.dumps(state).encode()
    rfd, wfd = os.pipe2(os.O_CLOEXEC)
    pid = fork_child(_exec_hook, rfd, path, args, env, what)
    os.close(rfd)
    try:
        os.write(wfd, data)
    except BrokenPipeError:
        pass
    os.close(wfd)
    deadline = time.monotonic() + timeout if timeout else None
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if select.select([pidfd], [], [], left)[0]:
                break
            os.kill(pid, 9)  # SIGKILL
            os.waitpid(pid, 0)
            raise RuntimeFailure(f"{what}: timed out after {timeout}s")
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    code = exit_code(status)
    if code != 0:
        raise RuntimeFailure(f"{what}: `{path}` exited with status {code}")


def _exec_hook(rfd: int, path: str, args: list, env: list, what: str) -> int:
    """The hook's child: the state on stdin, then the hook's program."""
    os.dup2(rfd, 0)
    try:
        os.execve(path, args, dict(e.split("=", 1) for e in env if "=" in e))
    except OSError as e:
        os.write(2, f"{what}: exec `{path}`: {e.strerror}\n".encode())
    return 127
