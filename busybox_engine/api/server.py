"""dockerd: the Docker Engine API on a unix socket, backed by containerd."""
import asyncio
import os
import platform
import re
from dataclasses import dataclass, field

from busybox_engine import __version__
from busybox_engine._build_info import BUILD_ID, BUILD_TIME
from busybox_engine.api.http import HTTPError, HTTPServer, Request, Response, Router, json_response
from busybox_engine.daemon.lifecycle import STOP_SIGNALS, PidFile, SocketClaim, wait_for_signal
from busybox_engine.rpc.aclient import AsyncClient
from busybox_engine.rpc.errors import RPCError
from busybox_engine.rpc.server import bind_unix

API_VERSION = "1.41"       # the Engine API of Docker 20.10, Debian's docker.io
MIN_API_VERSION = "1.12"
DEFAULT_HOST = "unix:///run/busybox-engine/docker.sock"
DEFAULT_DATA_ROOT = "/var/lib/busybox-engine/docker"
DEFAULT_EXEC_ROOT = "/run/busybox-engine/docker"
DEFAULT_PIDFILE = "/run/busybox-engine/dockerd.pid"
DEFAULT_CONTAINERD = "/run/busybox-engine/containerd.sock"

_VERSIONED = re.compile(r"^/v([0-9]+\.[0-9]+)(/.*)$")


def _vtuple(v: str) -> tuple:
    return tuple(int(x) for x in v.split("."))


@dataclass
class Config:
    hosts: list = field(default_factory=lambda: [DEFAULT_HOST])
    data_root: str = DEFAULT_DATA_ROOT
    exec_root: str = DEFAULT_EXEC_ROOT
    pidfile: str = DEFAULT_PIDFILE
    containerd: str = DEFAULT_CONTAINERD
    group: str = "docker"


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
            "Ostype": "linux", "Server": f"Docker/{__version__} (linux)",
            "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}


class Engine:
    """The API's handlers; state and clients of the daemon live here."""

    def __init__(self, config: Config):
        self.config = config

    def router(self) -> Router:
        r = Router()
        r.add("GET", "/_ping", self.ping)
        r.add("GET", "/version", self.version)
        return r

    async def ping(self, req: Request) -> Response:
        return Response(200, b"OK", content_type="text/plain; charset=utf-8")

    async def containerd_version(self) -> dict | None:
        try:
            client = await asyncio.wait_for(AsyncClient.connect(self.config.containerd), 2)
            async with client:
                return await asyncio.wait_for(client.call("version"), 2)
        except (RPCError, asyncio.TimeoutError):
            return None

    async def version(self, req: Request) -> Response:
        uname = platform.uname()
        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(uname.machine, uname.machine)
        runtime = f"python{platform.python_version()}"
        components = [{"Name": "Engine", "Version": __version__, "Details": {
            "ApiVersion": API_VERSION, "Arch": arch, "BuildTime": BUILD_TIME,
            "Experimental": "false", "GitCommit": BUILD_ID, "GoVersion": runtime,
            "KernelVersion": uname.release, "MinAPIVersion": MIN_API_VERSION,
            "Os": "linux"}}]
        ctd = await self.containerd_version()
        if ctd is not None:
            components.append({"Name": "containerd", "Version": ctd.get("version", ""),
                               "Details": {"GitCommit": ctd.get("revision", "")}})
        return json_response({
            "Platform": {"Name": "busybox-engine"}, "Components": components,
            "Version": __version__, "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION, "GitCommit": BUILD_ID,
            "GoVersion": runtime, "Os": "linux", "Arch": arch,
            "KernelVersion": uname.release, "BuildTime": BUILD_TIME})


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
    paths = [socket_path(h) for h in config.hosts]
    pidfile = PidFile(config.pidfile)
    claims, servers = [], []
    engine = Engine(config)
    http = HTTPServer(engine.router(), prepare=prepare, default_headers=engine_headers())
    mode, gid = _socket_mode_and_group(config.group)
    try:
        for path in paths:
            claims.append(SocketClaim(path, "dockerd").claim())
        pidfile.write()
        for path in paths:
            sock = bind_unix(path, mode)
            if gid >= 0:
                os.chown(path, -1, gid)
            servers.append(await asyncio.start_unix_server(http.handle_connection, sock=sock))
        if ready is not None:
            ready()
        await wait_for_signal(*STOP_SIGNALS)
    finally:
        for s in servers:
            s.close()
        for w in list(http.writers):
            w.close()
        for s in servers:
            await s.wait_closed()
        for c in claims:
            c.release()
        pidfile.remove()
    return 0


def run(config: Config) -> int:
    from busybox_engine.daemon.lifecycle import run_daemon
    return run_daemon(serve(config), "failed to start daemon")
