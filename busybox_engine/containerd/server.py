"""The containerd daemon: its services as msgpack-RPC over one unix socket."""
import asyncio
import os
import sys
from dataclasses import dataclass

from busybox_engine import __version__
from busybox_engine._build_info import BUILD_ID
from busybox_engine.daemon.lifecycle import STOP_SIGNALS, AlreadyRunning, SocketClaim, wait_for_signal
from busybox_engine.rpc.methods import Registry
from busybox_engine.rpc.server import Server

DEFAULT_ADDRESS = "/run/busybox-engine/containerd.sock"
DEFAULT_ROOT = "/var/lib/busybox-engine/containerd"
DEFAULT_STATE = "/run/busybox-engine/containerd"


@dataclass
class Config:
    address: str = DEFAULT_ADDRESS
    root: str = DEFAULT_ROOT
    state: str = DEFAULT_STATE
    registry_config: str = ""  # daemon.json-shaped: insecure-registries, registry-mirrors
    cri: object = None         # a cri.config.CriConfig, or None: no CRI endpoint


def version_info() -> dict:
    loop = type(asyncio.get_running_loop())
    return {"version": __version__, "revision": BUILD_ID,
            "name": "busybox-engine containerd", "pid": os.getpid(),
            "event_loop": f"{loop.__module__}.{loop.__qualname__}"}


def build_registry(config: Config):
    """The services, registered as `service.verb`; (registry, tasks, containers)."""
    from busybox_engine.containerd.services.containers import Containers
    from busybox_engine.containerd.services.events import Events
    from busybox_engine.containerd.services.tasks import Tasks
    from busybox_engine.containerd.store import Store
    registry = Registry()
    registry.add("version", version_info)
    store = Store(config.root)
    events = Events()
    from busybox_engine.containerd.services.images import ImageService
    from busybox_engine.image.hosts import RegistryHosts
    images = ImageService(config.root, store, events, RegistryHosts.load(config.registry_config))
    tasks = Tasks(config.state, store, events, images)
    containers = Containers(store, events, tasks, images)
    registry.add("images.import", images.import_)
    registry.add("images.pull", images.pull)
    registry.add("images.push", images.push)
    registry.add("images.export", images.export)
    for name in ("list", "get", "config", "describe", "describe_all", "tag", "delete", "configure"):
        registry.add(f"images.{name}", getattr(images, name))
    registry.add("gc.run", images.gc)
    for name in ("list", "info", "delete"):
        registry.add(f"content.{name}", getattr(images, f"content_{name}"))
    registry.add("snapshots.list", images.snapshots_list)
    registry.add("events.subscribe", events.subscribe)
    for name in ("create", "get", "list", "update", "delete", "mount", "unmount", "changes", "commit"):
        registry.add(f"containers.{name}", getattr(containers, name))
    for name in ("create", "start", "kill", "wait", "state", "pids", "stats", "pause", "resume", "update", "exec",
                 "list", "delete", "attach", "write_stdin", "close_stdin", "resize_pty"):
        registry.add(f"tasks.{name}", getattr(tasks, name))
    return registry, tasks, containers


async def serve(config: Config, ready=None) -> int:
    """Serve until SIGTERM/SIGINT; the socket is gone when this returns."""
    for d in (config.root, config.state):
        os.makedirs(d, mode=0o711, exist_ok=True)
    claim = SocketClaim(config.address, "containerd").claim()
    registry, tasks, containers = build_registry(config)
    server = Server(registry)
    if tasks.use_zygote:
        tasks.zygote.fork_now()   # now, while containerd has no thread to fork with
    cri = None
    try:
        # shims found on disk are ours again before anyone can ask
        await tasks.recover()
        containers.sweep_snapshots()
        if config.cri is not None and config.cri.address:
            # before containerd's own socket: who sees that one finds the CRI's too
            from busybox_engine.cri.endpoint import Endpoint
            cri = Endpoint(config.cri.address, lambda: cri_services(config.cri, tasks, containers))
            try:
                await cri.start()
            except AlreadyRunning as e:
                if config.cri.explicit:
                    raise
                # the default beside our socket is another containerd's: that one serves it
                sys.stderr.write(f"containerd: no CRI endpoint: {e}\n")
                cri = None
        await server.start(config.address)
        if config.registry_config:
            # SIGHUP: the registry config again (dockerd's reload changes it)
            import signal
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGHUP, _reload_registries, containers.images, config.registry_config)
        if ready is not None:
            ready()
        await wait_for_signal(*STOP_SIGNALS)
    finally:
        if cri is not None:
            await cri.close()
        await server.close()
        tasks.zygote.close()
        claim.release()
    return 0


def cri_services(cri, tasks, containers) -> list:
    """The CRI's services over ours; made (and their gRPC stack loaded) with
    the first CRI connection."""
    import asyncio

    from busybox_engine.cri.containers import Containers
    from busybox_engine.cri.events import Events
    from busybox_engine.cri.images import Images
    from busybox_engine.cri.pods import Pods
    from busybox_engine.cri.runtime import RuntimeInfo
    from busybox_engine.cri.stats import Stats
    from busybox_engine.cri.streaming import Server as StreamServer
    from busybox_engine.cri.streaming import StreamingService
    images = Images(containers.images, cri)
    pods = Pods(cri, containers.store, containers, tasks, images)
    ctrs = Containers(cri, containers.store, containers, tasks, images, pods)
    events = Events()
    events.pods, events.ctrs, pods.events = pods, ctrs, events
    loop = asyncio.get_running_loop()
    # pods and containers that ran before a restart (held: the loop keeps
    # only a weak reference to a task)
    pods.recovering = [loop.create_task(recover()) for recover in (pods.recover, ctrs.recover)]
    streams = StreamingService(StreamServer(cri, tasks, containers, pods, ctrs))
    return [RuntimeInfo(cri), images, pods, ctrs, Stats(pods, ctrs, tasks, images), streams, events]


def _reload_registries(images, path: str) -> None:
    from busybox_engine.image.hosts import RegistryHosts
    try:
        images.hosts = RegistryHosts.load(path)
    except Exception as e:  # noqa: BLE001 - a bad file keeps what we had
        sys.stderr.write(f"containerd: reloading {path}: {e}\n")


def run(config: Config) -> int:
    from busybox_engine.daemon.lifecycle import run_daemon
    return run_daemon(serve(config), "containerd")
