"""/networks: the three networks every dockerd has (bridge, host, none),
as Docker shows them, until user-defined networks come with the
networking work; and containers that share another's namespaces
(--network/--pid/--ipc container:NAME)."""
import hashlib

from busybox_engine.api.http import HTTPError, Request, Response, json_response
from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument, NotFound
from busybox_engine.util.timefmt import rfc3339nano

BUILTIN = (("bridge", "bridge"), ("host", "host"), ("none", "null"))
MODES = {"NetworkMode": "network", "PidMode": "pid", "IpcMode": "ipc"}


def network_name(mode: str) -> str:
    """The network a NetworkMode puts a container on."""
    return "bridge" if mode in ("", "default") else mode


def net_id(engine, name: str) -> str:
    return hashlib.sha256(f"{engine.daemon_id}/{name}".encode()).hexdigest()


def container_networks(engine, c) -> dict:
    """NetworkSettings.Networks of a container: its network by name (none
    for a container that shares another's)."""
    mode = c.host_config.get("NetworkMode") or ""
    if mode.startswith("container:"):
        return {}
    eps = c.data.get("Endpoints") or {}
    cfg = c.data.get("EndpointsConfig")
    first = network_name(mode)
    names = [first] if cfg is None else sorted(cfg, key=lambda n: n != first)
    if mode in ("host", "none"):
        names, cfg = [mode], {}
    cfg = cfg or {}
    out = {}
    for name in names:
        user = (getattr(engine, "networks", None) and engine.networks.user.get(name)) or None
        ep = endpoint(user["Id"] if user else net_id(engine, name))
        want = cfg.get(name) or {}
        ep["IPAMConfig"] = want.get("IPAMConfig") or None
        ep["Aliases"] = want.get("Aliases") or None
        ep.update(eps.get(name) or {})
        out[name] = ep
    return out


def endpoint(net_id: str) -> dict:
    """What inspect shows of a container on a network (no addresses yet)."""
    return {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": net_id, "EndpointID": "",
            "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "MacAddress": "", "DriverOpts": None}


def register(r, engine) -> None:
    h = NetworkRoutes(engine)
    r.add("GET", "/networks", h.list)
    r.add("POST", "/networks/create", h.create)
    r.add("POST", "/networks/prune", h.prune)
    r.add("GET", "/networks/{id}", h.inspect)
    r.add("DELETE", "/networks/{id}", h.remove)
    r.add("POST", "/networks/{id}/connect", h.connect)
    r.add("POST", "/networks/{id}/disconnect", h.connect)


class NetworkRoutes:
    def __init__(self, engine):
        self.engine = engine

    def net_id(self, name: str) -> str:
        return net_id(self.engine, name)

    def describe(self, name: str, driver: str, verbose: bool = True) -> dict:
        nets = self.engine.networks
        user = nets.user.get(name)
        if user is not None:
            out = dict(user, Containers={})
        else:
            out = {"Name": name, "Id": self.net_id(name), "Created": rfc3339nano(self.engine.started_at),
                   "Scope": "local", "Driver": driver, "EnableIPv6": False,
                   "IPAM": {"Driver": "default", "Options": None, "Config": []},
                   "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
                   "ConfigOnly": False, "Containers": {}, "Options": {}, "Labels": {}}
        if name == "bridge" and nets.enabled:
            out["IPAM"]["Config"] = [nets.subnet("bridge")]
            out["Options"] = {"com.docker.network.bridge.default_bridge": "true",
                              "com.docker.network.bridge.enable_icc": str(nets.icc).lower(),
                              "com.docker.network.bridge.enable_ip_masquerade": "true",
                              "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                              "com.docker.network.bridge.name": nets.bridge,
                              "com.docker.network.driver.mtu": str(nets.mtu or 1500)}
        if verbose:
            for c in self._members(name):
                ep = (c.data.get("Endpoints") or {}).get(name) or {}
                out["Containers"][c.id] = {
                    "Name": c.name.lstrip("/"), "EndpointID": ep.get("EndpointID", ""),
                    "MacAddress": ep.get("MacAddress", ""),
                    "IPv4Address": f"{ep['IPAddress']}/{ep['IPPrefixLen']}" if ep else "", "IPv6Address": ""}
        return out

    def _members(self, name: str) -> list:
        """The running containers on a network."""
        def on(c) -> bool:
            if name in ("host", "none"):
                return network_name(c.host_config.get("NetworkMode", "")) == name
            return name in (c.data.get("Endpoints") or {})
        return [c for c in self.engine.containers.all() if c.state["Running"] and on(c)]

    def find(self, ref: str) -> tuple:
        for name, driver in BUILTIN:
            if ref == name or (len(ref) >= 1 and self.net_id(name).startswith(ref)):
                return name, driver
        return self.engine.networks.find(ref)["Name"], "bridge"

    def _all(self) -> list:
        return list(BUILTIN) + [(n, "bridge") for n in self.engine.networks.user]

    def list(self, req: Request) -> Response:
        filters = req.json_arg("filters", {}) or {}
        if not isinstance(filters, dict):
            raise InvalidArgument("invalid filters: not a map")
        filters = {k: ([x for x, on in v.items() if on] if isinstance(v, dict) else list(v)
                       if isinstance(v, list) else [v]) for k, v in filters.items()}
        for key in filters:
            if key not in ("name", "id", "driver", "type", "label", "scope", "dangling"):
                raise InvalidArgument(f"invalid filter '{key}'")
        out = []
        for name, driver in self._all():
            builtin = name in dict(BUILTIN)
            d = self.describe(name, driver, verbose=False)
            if filters.get("name") and not any(v in name for v in filters["name"]):
                continue
            if filters.get("id") and not any(d["Id"].startswith(v) for v in filters["id"]):
                continue
            if filters.get("driver") and driver not in filters["driver"]:
                continue
            if filters.get("type") and ("builtin" if builtin else "custom") not in filters["type"]:
                continue
            if filters.get("label") and not all(_label_match(d["Labels"] or {}, v) for v in filters["label"]):
                continue
            if filters.get("scope") and "local" not in filters["scope"]:
                continue
            if filters.get("dangling"):
                dangling = not builtin and not self._members(name)
                if str(filters["dangling"][0]).lower() in ("true", "1") != dangling:
                    continue
            out.append(d)
        return json_response(out)

    def inspect(self, req: Request) -> Response:
        name, driver = self.find(req.params["id"])
        return json_response(self.describe(name, driver))

    async def create(self, req: Request) -> Response:
        body = await req.json()
        if not isinstance(body, dict) or not isinstance(body.get("Name"), str) or not body["Name"]:
            raise InvalidArgument("network create: a Name is required")
        if any(body["Name"] == n for n, _ in BUILTIN):
            raise HTTPError(403, f"{body['Name']} is a pre-defined network and cannot be created")
        for key in ("IPAM", "Options", "Labels"):
            if body.get(key) is not None and not isinstance(body[key], dict):
                raise InvalidArgument(f"network create: {key} must be an object")
        import asyncio
        net = await asyncio.get_running_loop().run_in_executor(None, self.engine.networks.create, body)
        self.engine.emit("network", "create", net["Id"], {"name": net["Name"], "type": "bridge"})
        return json_response({"Id": net["Id"], "Warning": ""}, 201)

    async def remove(self, req: Request) -> Response:
        name, _ = self.find(req.params["id"])
        if name in dict(BUILTIN):
            raise HTTPError(403, f"{name} is a pre-defined network and cannot be removed")
        nid = self.engine.networks.user[name]["Id"]
        if self._members(name):
            raise HTTPError(403, f"error while removing network: network {name} id {nid} has active endpoints")
        import asyncio
        await asyncio.get_running_loop().run_in_executor(None, self.engine.networks.remove, name)
        self.engine.emit("network", "destroy", nid, {"name": name, "type": "bridge"})
        return Response(204)

    async def prune(self, req: Request) -> Response:
        import asyncio
        deleted = []
        for name in list(self.engine.networks.user):
            if not self._members(name):
                nid = self.engine.networks.user[name]["Id"]
                await asyncio.get_running_loop().run_in_executor(None, self.engine.networks.remove, name)
                self.engine.emit("network", "destroy", nid, {"name": name, "type": "bridge"})
                deleted.append(name)
        return json_response({"NetworksDeleted": deleted or None})

    async def connect(self, req: Request) -> Response:
        name, _ = self.find(req.params["id"])
        body = await req.json()
        if not isinstance(body, dict) or not isinstance(body.get("Container"), str):
            raise InvalidArgument("a Container is required")
        c = self.engine.containers.get(body["Container"])
        disconnect = req.path.endswith("/disconnect")
        if name in dict(BUILTIN):
            if name == "bridge" and not disconnect:
                raise HTTPError(403, "connecting to the default bridge of a running container is not supported")
            raise HTTPError(403, f"container cannot be {'disconnected from' if disconnect else 'connected to'} "
                                 f"{name} network")
        await (self.engine.disconnect_network(c, name, bool(body.get("Force"))) if disconnect
               else self.engine.connect_network(c, name, body.get("EndpointConfig") or {}))
        return Response(200)


def _label_match(labels: dict, want: str) -> bool:
    k, eq, v = want.partition("=")
    return k in labels and (not eq or labels[k] == v)


# --- container:NAME -------------------------------------------------------------------

async def join_namespaces(engine, c) -> None:
    """At start (as Docker, not at create: a 404 there sends the docker
    CLI pulling the image): the network must exist, and the spec joins the
    namespaces of the containers its modes name, which must be running."""
    mode = c.host_config.get("NetworkMode") or "default"
    if mode not in ("default", "bridge", "host", "none") and not mode.startswith("container:"):
        # as Docker: the container is made, its start finds no such network
        engine.networks.find(mode)
    joins = {}
    for key, ns in MODES.items():
        mode = c.host_config.get(key) or ""
        if not mode.startswith("container:"):
            continue
        other = engine.containers.get(mode.split(":", 1)[1])
        if other.id == c.id:
            raise InvalidArgument(f"cannot join own {ns} namespace")
        if not other.state["Running"] or not other.state["Pid"]:
            what = {"network": "network", "pid": "PID", "ipc": "IPC"}[ns]
            raise FailedPrecondition(f"cannot join {what} of a non running container: {other.id}")
        joins[ns] = f"/proc/{other.state['Pid']}/ns/{'net' if ns == 'network' else ns}"
    if not joins:
        return
    record = await engine.ctd.call("containers.get", id=c.id)
    spec = record["spec"]
    spaces = [n for n in spec["linux"].get("namespaces") or [] if n["type"] not in joins]
    spec["linux"]["namespaces"] = spaces + [{"type": t, "path": p} for t, p in joins.items()]
    await engine.ctd.call("containers.update", id=c.id, spec=spec)
