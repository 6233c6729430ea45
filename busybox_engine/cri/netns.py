"""A pod's network namespace, pinned by a bind mount at a path of our
state directory (as `ip netns add` pins one under /run/netns), so it
outlives the pause process and CNI can be torn down after a daemon restart.

It is made by a thread that ends right after (see create()): no helper
process to start, and no thread of the daemon stays in the pod's namespace."""
import asyncio
import os
import threading

MNT_DETACH = 2
MS_BIND = 4096


def make_here(path: str, own: str) -> None:
    """A new network namespace for the calling thread (own: its ns file),
    bind-mounted at path."""
    from busybox_engine.core_pyx.mounts import mount
    from busybox_engine.core_pyx.ns import CLONE_NEWNET, unshare_ns
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)
    try:
        unshare_ns(CLONE_NEWNET)
        mount(own, path, None, MS_BIND)
    except OSError:
        os.unlink(path)
        raise


async def create(path: str) -> None:
    """A new network namespace pinned at path, made by a thread of its own
    (unshare(CLONE_NEWNET) moves just that thread, which then ends: no
    other thread of the daemon ever runs in the pod's namespace)."""
    os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def run() -> None:
        try:
            make_here(path, f"/proc/self/task/{threading.get_native_id()}/ns/net")
            loop.call_soon_threadsafe(done.set_result, None)
        except BaseException as e:   # noqa: BLE001 - handed to the caller
            loop.call_soon_threadsafe(done.set_exception, OSError(f"creating network namespace {path}: {e}"))
    threading.Thread(target=run, name="netns").start()
    await done


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
