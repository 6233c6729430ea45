"""A pod's network namespace, pinned by a bind mount at a path of our
state directory (as `ip netns add` pins one under /run/netns), so it
outlives the pause process and CNI can be torn down after a daemon restart.

It is made in a short-lived helper process (containerd --make-netns PATH):
unshare() in a daemon with threads would move only the calling thread."""
import asyncio
import os

MNT_DETACH = 2
MS_BIND = 4096


def make_here(path: str) -> int:
    """In the helper: a new network namespace, bind-mounted at path."""
    from busybox_engine.core_pyx.mounts import mount
    from busybox_engine.core_pyx.ns import CLONE_NEWNET, unshare_ns
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)
    try:
        unshare_ns(CLONE_NEWNET)
        mount("/proc/self/ns/net", path, None, MS_BIND)
    except OSError:
        os.unlink(path)
        raise
    return 0


async def create(path: str) -> None:
    import subprocess

    from busybox_engine.selfexec import personality_command
    exe, argv, env = personality_command("containerd")
    os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
    # subprocess, not the loop's: uvloop does not keep argv[0] apart from
    # the executable, and the built program dispatches on argv[0]
    r = await asyncio.get_running_loop().run_in_executor(None, lambda: subprocess.run(
        argv + ["--make-netns", path], executable=exe, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    if r.returncode != 0:
        raise OSError(f"creating network namespace {path}: {r.stderr.decode(errors='replace').strip()}")


def remove(path: str) -> None:
    """Unpin and delete; nothing to do if it is gone."""
    from busybox_engine.core_pyx.mounts import umount2
    try:
        umount2(path, MNT_DETACH)
    except OSError:
        pass
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
