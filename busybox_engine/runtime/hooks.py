"""OCI hooks: run with the state on stdin, env and timeout from the spec."""
import json
import os
import time

from busybox_engine.runtime.errors import RuntimeFailure


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
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(rfd, 0)
            os.execve(path, args, dict(e.split("=", 1) for e in env if "=" in e))
        except OSError as e:
            os.write(2, f"{what}: exec `{path}`: {e.strerror}\n".encode())
        os._exit(127)
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
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeFailure(f"{what}: `{path}` exited with status {code}")
