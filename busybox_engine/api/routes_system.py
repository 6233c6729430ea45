"""/_ping, /version, /info, /events."""
import asyncio
import json
import os
import platform
import time

from busybox_engine import __version__
from busybox_engine._build_info import BUILD_ID, BUILD_TIME
from busybox_engine.api.http import STREAMED, Request, Response, json_response
from busybox_engine.rpc.errors import InvalidArgument, RPCError

API_VERSION = "1.41"       # the Engine API of Docker 20.10, Debian's docker.io
MIN_API_VERSION = "1.12"


def register(r, engine) -> None:
    h = SystemRoutes(engine)
    r.add("GET", "/_ping", h.ping)
    r.add("GET", "/version", h.version)
    r.add("GET", "/info", h.info)
    r.add("GET", "/events", h.events)
    r.add("GET", "/system/df", h.df)
    r.add("POST", "/auth", h.auth)


def _arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


class SystemRoutes:
    def __init__(self, engine):
        self.engine = engine

    def ping(self, req: Request) -> Response:
        return Response(200, b"OK", content_type="text/plain; charset=utf-8")

    async def version(self, req: Request) -> Response:
        uname = platform.uname()
        runtime = f"python{platform.python_version()}"
        components = [{"Name": "Engine", "Version": __version__, "Details": {
            "ApiVersion": API_VERSION, "Arch": _arch(), "BuildTime": BUILD_TIME,
            "Experimental": "false", "GitCommit": BUILD_ID, "GoVersion": runtime,
            "KernelVersion": uname.release, "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}}]
        ctd = self.engine.ctd
        if ctd.client is not None:
            try:
                v = await asyncio.wait_for(ctd.client.call("version"), 2)
                components.append({"Name": "containerd", "Version": v.get("version", ""),
                                   "Details": {"GitCommit": v.get("revision", "")}})
            except (RPCError, asyncio.TimeoutError):
                pass
        return json_response({
            "Platform": {"Name": "busybox-engine"}, "Components": components,
            "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": BUILD_ID, "GoVersion": runtime, "Os": "linux", "Arch": _arch(),
            "KernelVersion": uname.release, "BuildTime": BUILD_TIME})

    async def info(self, req: Request) -> Response:
        cs = self.engine.containers.all()
        running = sum(1 for c in cs if c.state["Running"] and not c.state["Paused"])
        paused = sum(1 for c in cs if c.state["Paused"])
        try:
            images = len(await self.engine.ctd.call("images.list"))
        except RPCError:
            images = 0
        uname = platform.uname()
        mem = 0
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemTotal:"):
                        mem = int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
        os_name = "Linux"
        try:
            with open("/etc/os-release") as f:
                for line in f:
                    if line.startswith("PRETTY_NAME="):
                        os_name = line.split("=", 1)[1].strip().strip('"')
        except OSError:
            pass
        v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        cfg = self.engine.config
        return json_response({
            "ID": self.engine.daemon_id, "Containers": len(cs), "ContainersRunning": running,
            "ContainersPaused": paused, "ContainersStopped": len(cs) - running - paused,
            "Images": images, "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"],
                             ["Native Overlay Diff", "true"], ["userxattr", "false"]],
            "Plugins": {"Volume": ["local"], "Network": ["host", "null"],
                        "Authorization": None, "Log": ["json-file", "local", "none"]},
            "MemoryLimit": True, "SwapLimit": os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
            "KernelMemory": False, "KernelMemoryTCP": False, "CpuCfsPeriod": True, "CpuCfsQuota": True,
            "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
            "BridgeNfIptables": False, "BridgeNfIp6tables": False, "Debug": bool(getattr(cfg, "debug", False)),
            "NFd": len(os.listdir("/proc/self/fd")), "OomKillDisable": True,
            "NGoroutines": len(asyncio.all_tasks()), "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "LoggingDriver": cfg.log_driver, "CgroupDriver": "cgroupfs",
            "CgroupVersion": "2" if v2 else "1", "NEventsListener": len(self.engine.event_subscribers),
            "KernelVersion": uname.release, "OperatingSystem": os_name, "OSVersion": "",
            "OSType": "linux", "Architecture": uname.machine,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": _registry_config(cfg),
            "NCPU": os.cpu_count() or 1, "MemTotal": mem, "GenericResources": None,
            "DockerRootDir": cfg.data_root, "HttpProxy": os.environ.get("HTTP_PROXY", ""),
            "HttpsProxy": os.environ.get("HTTPS_PROXY", ""), "NoProxy": os.environ.get("NO_PROXY", ""),
            "Name": uname.node, "Labels": [], "ExperimentalBuild": False, "ServerVersion": __version__,
            "Runtimes": dict({"runc": {"path": "runc"}}, **{k: {"path": v.get("path", "")}
                                                            for k, v in (cfg.runtimes or {}).items()}),
            "DefaultRuntime": cfg.default_runtime,
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                      "ControlAvailable": False, "Error": "", "RemoteManagers": None},
            "LiveRestoreEnabled": bool(getattr(cfg, "live_restore", False)), "Isolation": "",
            "InitBinary": "docker-init",
            "ContainerdCommit": {"ID": BUILD_ID, "Expected": BUILD_ID},
            "RuncCommit": {"ID": BUILD_ID, "Expected": BUILD_ID},
            "InitCommit": {"ID": BUILD_ID, "Expected": BUILD_ID},
            "SecurityOptions": ["name=seccomp,profile=" + ("default" if not cfg.seccomp_profile
                                                             else cfg.seccomp_profile)]
            + (["name=cgroupns"] if v2 else []),
            "Warnings": ["WARNING: bridge networking is not available yet: containers get loopback only"],
        })

    async def df(self, req: Request) -> Response:
        from busybox_engine.api.routes_containers import ContainerRoutes
        from busybox_engine.api.routes_images import _repo_tags
        from busybox_engine.util.timefmt import parse_rfc3339
        images = await self.engine.ctd.call("images.describe_all")
        counts = {}
        for c in self.engine.containers.all():
            counts[c.data.get("Image")] = counts.get(c.data.get("Image"), 0) + 1
        seen, out_images, layers = set(), [], 0
        for i in images:
            if i["id"] in seen:
                continue
            seen.add(i["id"])
            layers += i["size"]
            cfg = i.get("config") or {}
            out_images.append({"Id": i["id"], "ParentId": "", "RepoTags": _repo_tags(images, i["id"]) or ["<none>:<none>"],
                               "RepoDigests": [], "Created": int(parse_rfc3339(cfg.get("created", ""))),
                               "Size": i["size"], "SharedSize": 0, "VirtualSize": i["size"],
                               "Labels": (cfg.get("config") or {}).get("Labels"),
                               "Containers": counts.get(i["id"], 0)})
        routes = ContainerRoutes(self.engine)
        containers = []
        for c in self.engine.containers.all():
            summary = routes.summary(c)
            summary["SizeRw"] = 0
            summary["SizeRootFs"] = 0
            containers.append(summary)
        vols = []
        users = {}
        for c in self.engine.containers.all():
            for p in c.data.get("MountPoints") or []:
                if p.get("Name"):
                    users[p["Name"]] = users.get(p["Name"], 0) + 1
        for v in self.engine.volumes.list():
            vols.append(dict(v, UsageData={"Size": self.engine.volumes.size(v["Name"]),
                                           "RefCount": users.get(v["Name"], 0)}))
        return json_response({"LayersSize": layers, "Images": out_images, "Containers": containers,
                              "Volumes": vols, "BuildCache": []})

    async def auth(self, req: Request) -> Response:
        """docker login: the credentials checked against the registry."""
        body = await req.json({}) or {}
        if not isinstance(body, dict):
            raise InvalidArgument("auth config must be an object")
        user, password = body.get("username") or "", body.get("password") or ""
        server = body.get("serveraddress") or "https://index.docker.io/v1/"
        if not all(isinstance(x, str) for x in (user, password, server)):
            raise InvalidArgument("username, password and serveraddress must be strings")
        host = server.split("://", 1)[-1].split("/", 1)[0]
        if host in ("index.docker.io", "registry-1.docker.io", "docker.io"):
            host = "registry-1.docker.io"
        plain = server.startswith("http://") or host.startswith(("127.", "localhost"))
        from busybox_engine.image.distribution import Registry
        registry = Registry(host, plain_http=plain, credentials=(user, password) if user else None)
        url = f"{'http' if plain else 'https'}://{host}/v2/"
        try:
            await asyncio.get_running_loop().run_in_executor(None, registry.ping)
        except RPCError as e:
            if "401" in e.message or "403" in e.message or e.code == "unauthenticated":
                from busybox_engine.api.http import HTTPError
                raise HTTPError(401, f"login attempt to {url} failed with status: 401 Unauthorized") from None
            raise RPCError(f"Get \"{url}\": {e.message}") from None
        return json_response({"Status": "Login Succeeded", "IdentityToken": ""})

    async def events(self, req: Request):
        since, until = _ts(req.arg("since")), _ts(req.arg("until"))
        filters = req.json_arg("filters", {}) or {}
        if not isinstance(filters, dict):
            raise InvalidArgument("invalid filters")
        filters = {k: (list(v) if isinstance(v, (list, dict)) else [v]) for k, v in filters.items()}
        q = asyncio.Queue()
        self.engine.event_subscribers.add(q)
        w = await req.stream(200, "application/json")
        gone = asyncio.ensure_future(req.disconnected())
        loop = asyncio.get_running_loop()
        try:
            if since:
                # the past first, from what the daemon kept; then live ones
                seen = {id(m) for m in q._queue}
                for msg in list(self.engine.event_log):
                    if id(msg) in seen or msg["timeNano"] < since * 1e9 or (until and msg["time"] > until):
                        continue
                    if _matches(msg, filters):
                        await w.write(json.dumps(msg).encode() + b"\n")
            while True:
                left = None if not until else until - time.time()
                if left is not None and left <= 0:
                    break
                get = asyncio.ensure_future(q.get())
                done, _ = await asyncio.wait([get, gone], timeout=left, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    if gone in done:
                        return STREAMED
                    break
                msg = get.result()
                if since and msg["time"] < since:
                    continue
                if _matches(msg, filters):
                    await w.write(json.dumps(msg).encode() + b"\n")
            await w.end()
        finally:
            gone.cancel()
            self.engine.event_subscribers.discard(q)
            del loop
        return STREAMED


def _ts(text) -> float:
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        from busybox_engine.util.timefmt import parse_rfc3339
        return parse_rfc3339(text)


def _matches(msg: dict, filters: dict) -> bool:
    attrs = msg["Actor"]["Attributes"]
    for key, values in filters.items():
        if not values:
            continue
        if key == "type" and msg["Type"] not in values:
            return False
        if key == "event" and msg["Action"].split(":")[0] not in values:
            return False
        if key == "container" and msg["Type"] == "container" and not any(
                v == msg["Actor"]["ID"] or msg["Actor"]["ID"].startswith(v) or v == attrs.get("name")
                for v in values):
            return False
        if key == "container" and msg["Type"] != "container":
            return False
        if key == "image" and attrs.get("image") not in values and msg["Actor"]["ID"] not in values:
            return False
        if key == "label" and not all(
                (v.split("=", 1)[0] in attrs and ("=" not in v or attrs[v.split("=", 1)[0]] == v.split("=", 1)[1]))
                for v in values):
            return False
    return True


def _registry_config(cfg) -> dict:
    """Registries as dockerd shows them: insecure ones by CIDR or by name
    (index configs), mirrors of Docker Hub."""
    import ipaddress
    cidrs, names = ["127.0.0.0/8"], []
    for r in cfg.insecure_registries or []:
        try:
            net = str(ipaddress.ip_network(r, strict=False))
            if net not in cidrs:
                cidrs.append(net)
        except ValueError:
            names.append(r)
    mirrors = [m if m.endswith("/") else m + "/" for m in cfg.registry_mirrors or []]
    index = {"docker.io": {"Name": "docker.io", "Mirrors": mirrors, "Secure": True, "Official": True}}
    for n in names:
        index[n] = {"Name": n, "Mirrors": [], "Secure": False, "Official": False}
    return {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": cidrs, "IndexConfigs": index, "Mirrors": mirrors}
