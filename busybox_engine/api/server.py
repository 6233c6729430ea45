"""dockerd: the Docker Engine API on a unix socket, backed by containerd."""
import asyncio
import functools
import os
import re

from busybox_engine import __version__
from busybox_engine.api.http import HTTPError, HTTPServer, Request, Router
from busybox_engine.daemon.lifecycle import STOP_SIGNALS, PidFile, SocketClaim, wait_for_signal
from busybox_engine.rpc.server import bind_unix

from busybox_engine.api.routes_system import API_VERSION, MIN_API_VERSION

from busybox_engine.api.config import Config

_VERSIONED = re.compile(r"^/v([0-9]+\.[0-9]+)(/.*)$")


@functools.lru_cache(maxsize=64)
def _vtuple(v: str) -> tuple:
    return tuple(int(x) for x in v.split("."))


def socket_path(host: str) -> str:
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host.startswith("/"):
        return host
    raise ValueError(f"unsupported host {host!r}: only unix:// sockets are served")


def prepare(req: Request) -> None:
    """Strip /vX.Y and refuse versions outside what we serve, as dockerd does."""
    m = _VERSIONED.match(req.path)
    if m:
        version, req.path = m.group(1), m.group(2)
        if _vtuple(version) > _vtuple(API_VERSION):
            raise HTTPError(400, f"client version {version} is too new. "
                                 f"Maximum supported API version is {API_VERSION}")
        if _vtuple(version) < _vtuple(MIN_API_VERSION):
            raise HTTPError(400, f"client version {version} is too old. "
                                 f"Minimum supported API version is {MIN_API_VERSION}, "
                                 "please upgrade your client to a newer version")
        req.api_version = version
    else:
        req.api_version = API_VERSION


def engine_headers() -> dict:
    return {"Api-Version": API_VERSION, "Docker-Experimental": "false",
            "Ostype": "linux", "Server": f"Docker/{__version__} (linux)"}


def build_router(engine) -> Router:
    from busybox_engine.api import (commit, networks, routes_containers, routes_images, routes_system,
                                    update, volumes)
    r = Router()
    commit.register(r, engine)
    networks.register(r, engine)
    update.register(r, engine)
    volumes.register(r, engine)
    routes_system.register(r, engine)
    routes_containers.register(r, engine)
    routes_images.register(r, engine)
    return r


def _socket_mode_and_group(group: str) -> tuple:
    """0660 owned by `group` when it exists (like dockerd -G), else 0600."""
    import grp
    try:
        return 0o660, grp.getgrnam(group).gr_gid
    except KeyError:
        return 0o600, -1


async def serve(config: Config, ready=None) -> int:
    for d in (config.data_root, config.exec_root):
        os.makedirs(d, mode=0o711, exist_ok=True)
    paths = [socket_path(h) for h in config.hosts if not h.startswith("tcp://")]
    tcp = [h for h in config.hosts if h.startswith("tcp://")]
    pidfile = PidFile(config.pidfile)
    claims, servers = [], []
    own = None
    from busybox_engine.api.engine import Engine
    from busybox_engine.api.supervise import OwnContainerd
    if not config.containerd:
        registries = {k: v for k, v in (("insecure-registries", config.insecure_registries),
                                        ("registry-mirrors", config.registry_mirrors)) if v}
        own = OwnContainerd(config.data_root, config.exec_root, registries)
        config.containerd = own.address
    engine = Engine(config)
    http = HTTPServer(build_router(engine), prepare=prepare, default_headers=engine_headers())
    mode, gid = _socket_mode_and_group(config.group)
    loop = asyncio.get_running_loop()
    try:
        for path in paths:
            claims.append(SocketClaim(path, "dockerd").claim())
        pidfile.write()
        if own is not None:
            own.start()
        await engine.open()
        for path in paths:
            sock = bind_unix(path, mode)
            if gid >= 0:
                os.chown(path, -1, gid)
            servers.append(await loop.create_unix_server(http.protocol, sock=sock))
        if tcp:
            from busybox_engine.api.config import tcp_address
            ctx = tls_context(config)
            for h in tcp:
                host, port = tcp_address(h)
                from busybox_engine.api.tls import TLSServerProtocol
                servers.append(await loop.create_server(lambda: TLSServerProtocol(ctx, http.protocol),
                                                        host, port, reuse_address=True))
        import signal
        loop.add_signal_handler(signal.SIGHUP, _reload, config, engine, own)
        if ready is not None:
            ready()
        await wait_for_signal(*STOP_SIGNALS)
    finally:
        for s in servers:
            s.close()
        http.close_all()
        for s in servers:
            await s.wait_closed()
        await engine.close()
        if own is not None:
            await own.stop()
        for c in claims:
            c.release()
        pidfile.remove()
    return 0


def _reload(config: Config, engine, own) -> None:
    """SIGHUP: what Docker reloads, from the flags and the config file."""
    import sys
    from busybox_engine.api.config import ConfigError, reload
    try:
        changed = reload(config)
    except (ConfigError, SystemExit) as e:
        sys.stderr.write(f"dockerd: Error reconfiguring the daemon: {e}\n")
        return
    if own is not None and ({"insecure_registries", "registry_mirrors"} & set(changed)):
        own.reload_registries({k: v for k, v in (("insecure-registries", config.insecure_registries),
                                                 ("registry-mirrors", config.registry_mirrors)) if v})
    sys.stderr.write(f"dockerd: reloaded configuration: {sorted(changed) or 'nothing changed'}\n")
    engine.emit("daemon", "reload", engine.daemon_id,
                {"name": os.uname().nodename, "debug": str(config.debug).lower(),
                 "live-restore": str(config.live_restore).lower(),
                 "default-runtime": config.default_runtime,
                 "runtimes": ", ".join(["runc", *sorted(config.runtimes or {})]),
                 "insecure-registries": str(config.insecure_registries),
                 "registry-mirrors": str(config.registry_mirrors)})


def tls_context(config: Config):
    """Mutual TLS as dockerd --tlsverify: clients need a certificate the CA signed."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(config.tlscert, config.tlskey)
    ctx.load_verify_locations(config.tlscacert)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def run(config: Config) -> int:
    from busybox_engine.daemon.lifecycle import run_daemon
    return run_daemon(serve(config), "failed to start daemon")
