"""dockerd's engine: its containers over our containerd, their lifecycle
(create, start, exits, restart policies, removal) and the images they
come from. The HTTP handlers (api/routes_*.py) call into this.

A Docker container is a containerd container in the namespace `moby`
(holding the spec and the writable snapshot for the container's whole
life) plus, while it runs, a task. dockerd learns of exits from
containerd's events; after a restart of dockerd or containerd it asks
every task for its state again, so a container that exited meanwhile
shows its real exit code.
"""
import asyncio
import os
import sys
import time

from busybox_engine.api import spec as specs
from busybox_engine.api.ctd import Containerd
from busybox_engine.api.records import ZERO_TIME, Container, ContainerStore
from busybox_engine.api.http import HTTPError
from busybox_engine.rpc.errors import (AlreadyExists, FailedPrecondition, InvalidArgument, NotFound,
                                       RPCError)
from busybox_engine.util.timefmt import parse_rfc3339, rfc3339nano

SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15,
           "STOP": 19, "CONT": 18, "ALRM": 14, "WINCH": 28, "PIPE": 13}


def parse_signal(value, default: int = 15) -> int:
    if value in (None, ""):
        return default
    if isinstance(value, int):
        return value
    text = str(value).upper()
    if text.isdigit():
        return int(text)
    text = text[3:] if text.startswith("SIG") else text
    if text in SIGNALS:
        return SIGNALS[text]
    import signal as _signal
    try:
        return int(getattr(_signal, "SIG" + text))
    except AttributeError:
        raise InvalidArgument(f"Invalid signal: {value}") from None


class Engine:
    def __init__(self, config):
        self.config = config
        self.containers = ContainerStore(os.path.join(config.data_root, "containers"))
        from busybox_engine.api.volumes import Volumes
        self.volumes = Volumes(os.path.join(config.data_root, "volumes"))
        self.ctd = Containerd(config.containerd, on_event=self._on_event, on_connect=self._resync)
        self.execs = {}       # exec id -> record
        self.event_subscribers = set()
        import collections
        self.event_log = collections.deque(maxlen=1024)   # for --since, as dockerd keeps them
        self.started_at = time.time()
        self.booted = False
        self._net_locks = {}   # container id -> lock of its network teardown

    async def open(self) -> None:
        self.seccomp_profile = None
        if self.config.seccomp_profile:
            import json
            with open(self.config.seccomp_profile) as f:
                self.seccomp_profile = json.load(f)
        self.containers.load()
        self.daemon_id = self._daemon_id()
        from busybox_engine.api.config import address_pools
        from busybox_engine.network.manager import Networks
        cfg = self.config
        self.networks = Networks(cfg.data_root, bridge=cfg.bridge, bip=cfg.bip, fixed_cidr=cfg.fixed_cidr,
                                 iptables=cfg.iptables, icc=cfg.icc, mtu=cfg.mtu,
                                 hairpin=not cfg.userland_proxy,
                                 pools=address_pools(cfg.default_address_pools) or None)
        await asyncio.get_running_loop().run_in_executor(None, self.networks.open)
        from busybox_engine.network.ports import Ports
        self.ports = Ports(self.networks.bridge, iptables=cfg.iptables, userland_proxy=cfg.userland_proxy)
        from busybox_engine.network.dns import Resolver
        self.resolver = Resolver(self._dns_lookup)
        self.ctd.start()

    def _daemon_id(self) -> str:
        path = os.path.join(self.config.data_root, "engine-id")
        try:
            with open(path) as f:
                return f.read().strip()
        except FileNotFoundError:
            import uuid
            from busybox_engine.util.atomicfile import atomic_write
            value = str(uuid.uuid4())
            atomic_write(path, value)
            return value

    async def close(self) -> None:
        """Without live-restore, running containers stop with the daemon
        (as Docker's do); their restart policies bring them back at its
        next start. A crash never stops them: the shims keep them."""
        if not self.config.live_restore and self.ctd.client is not None:
            running = [c for c in self.containers.all() if c.state["Running"]]

            async def stop(c):
                try:
                    timeout = c.config.get("StopTimeout")
                    await self.stop(c, min(10 if timeout is None else int(timeout), 30), manual=False)
                except RPCError as e:
                    sys.stderr.write(f"dockerd: stopping {c.id[:12]}: {e}\n")
            await asyncio.gather(*(stop(c) for c in running))
        for c in self.containers.all():
            if c.restart_task is not None:
                c.restart_task.cancel()
        await self.ctd.close()

    async def _start_on_boot(self) -> None:
        """Containers whose restart policy says they run whenever the daemon
        does: `always`, and `unless-stopped` unless someone stopped them."""
        for c in self.containers.all():
            if c.state["Running"] or c.state.get("Removing"):
                continue
            policy = (c.host_config.get("RestartPolicy") or {}).get("Name") or "no"
            manual = c.data.get("HasBeenManuallyStopped", False)
            if policy == "always" or (policy == "unless-stopped" and not manual) or c.state["Restarting"]:
                c.state["Restarting"] = False
                try:
                    await self.start(c)
                except (RPCError, RuntimeFailure) as e:
                    sys.stderr.write(f"dockerd: starting {c.id[:12]} (restart policy): {e}\n")

    # --- events -------------------------------------------------------------------

    def emit(self, kind: str, action: str, actor_id: str, attributes: dict) -> None:
        now = time.time()
        msg = {"status": action, "id": actor_id, "from": attributes.get("image", ""),
               "Type": kind, "Action": action,
               "Actor": {"ID": actor_id, "Attributes": attributes},
               "scope": "local", "time": int(now), "timeNano": int(now * 1e9)}
        if kind != "container":
            msg.pop("status")
            msg.pop("id")
            msg.pop("from")
        self.event_log.append(msg)
        for q in list(self.event_subscribers):
            if q.qsize() < 10000:
                q.put_nowait(msg)

    def container_event(self, c: Container, action: str, **extra) -> None:
        attrs = {"image": c.config.get("Image", ""), "name": c.name.lstrip("/")}
        attrs.update({k: v for k, v in (c.config.get("Labels") or {}).items()})
        attrs.update({k: str(v) for k, v in extra.items()})
        self.emit("container", action, c.id, attrs)

    def _on_event(self, topic: str, event: dict) -> None:
        if topic == "/tasks/exit":
            c = self.containers.by_id.get(event.get("container_id", ""))
            if c is not None:
                asyncio.get_running_loop().create_task(
                    self._exited(c, event.get("exit_status"), event.get("exited_at"), event.get("pid")))
        elif topic == "/tasks/exec-exit":
            e = self.execs.get(event.get("exec_id", ""))
            if e is not None:
                self._exec_exited(e, event.get("exit_status"))

    async def _resync(self) -> None:
        """After (re)connecting: what happened to running containers while
        we could not hear of it; on the first connection, the containers
        restart policies start with the daemon."""
        await self._resync_states()
        if not self.booted:
            self.booted = True
            await self._start_on_boot()

    async def _resync_states(self) -> None:
        async def one(c: Container) -> None:
            try:
                st = await self.ctd.call("tasks.state", container_id=c.id)
            except NotFound:
                # its task is gone (and its shim with it): its exit is not known
                st = {"status": "stopped", "exit_status": 255, "exited_at": None}
            except RPCError as e:
                sys.stderr.write(f"dockerd: state of {c.id[:12]}: {e}\n")
                return
            if st.get("status") == "stopped":
                await self._exited(c, st.get("exit_status"), st.get("exited_at"))
            elif st.get("status") == "paused" and not c.state["Paused"]:
                c.state.update(Paused=True, Status="paused")
                c.save()
            elif st.get("status") == "running" and c.state["Paused"]:
                c.state.update(Paused=False, Status="running")
                c.save()
        await asyncio.gather(*(one(c) for c in self.containers.all() if c.state["Running"]))
        for c in self.containers.all():
            if c.state["Running"] and c.health_task is None:
                self._watch_health(c)
            if c.state["Running"] and c.data.get("Ports") and c.id not in self.ports.by_container:
                await self._republish(c)
            if c.state["Running"] and c.state["Pid"] and any(n != "bridge" for n in c.data.get("Endpoints") or {}):
                try:
                    await self.resolver.serve(c.id, f"/proc/{c.state['Pid']}/ns/net", c.host_config.get("Dns") or [])
                except OSError as e:
                    sys.stderr.write(f"dockerd: container {c.id[:12]}: DNS not served again: {e}\n")

    async def _republish(self, c: Container) -> None:
        """A container that outlived a daemon (live-restore, a crash) gets
        its published ports back: the same host ports, proxies listening again."""
        eps = c.data.get("Endpoints") or {}
        first = self.networks_of(c)[:1]
        name = first[0] if first and first[0] in eps else next(iter(eps), "bridge")
        ep = eps.get(name) or {}
        recorded = c.data["Ports"]
        bindings = {k: [{"HostIp": "" if b["HostIp"] == "0.0.0.0" else b["HostIp"], "HostPort": b["HostPort"]}
                        for b in v] for k, v in recorded.items() if v}
        try:
            await self.ports.publish(c.id, c.name.lstrip("/"), ep.get("EndpointID", ""), ep.get("IPAddress", ""),
                                     {"PortBindings": bindings}, {"ExposedPorts": dict.fromkeys(recorded, {})},
                                     self.networks.bridge_of(name) if name in eps else "", republish=True)
        except (RPCError, OSError) as e:
            sys.stderr.write(f"dockerd: container {c.id[:12]}: ports not published again: {e}\n")

    def _exec_exited(self, e: dict, status) -> None:
        e["Running"] = False
        e["ExitCode"] = status if isinstance(status, int) else 255
        if not e["_done"].done():
            e["_done"].set_result(e["ExitCode"])
        asyncio.get_running_loop().create_task(self._forget_exec(e))

    async def _forget_exec(self, e: dict) -> None:
        try:
            await self.ctd.call("tasks.delete", container_id=e["ContainerID"], exec_id=e["ID"])
        except RPCError:
            pass
        c = self.containers.by_id.get(e["ContainerID"])
        if c is not None:
            self.container_event(c, "exec_die", execID=e["ID"], exitCode=e["ExitCode"])

    # --- images -------------------------------------------------------------------

    async def image(self, ref: str) -> dict:
        """An image by name, id or id prefix; Docker's 404 text."""
        if not isinstance(ref, str) or not ref:
            raise InvalidArgument("no image given")
        images = None
        if not ref.startswith("sha256:") or len(ref) != 71:
            try:
                return await self.ctd.call("images.describe", name=ref)
            except (NotFound, InvalidArgument):
                pass
        images = await self.ctd.call("images.describe_all")
        key = ref if ref.startswith("sha256:") else "sha256:" + ref
        if all(ch in "0123456789abcdef" for ch in key[7:]) and len(key) > 7 + 2:
            found = {i["id"] for i in images if i["id"].startswith(key)}
            if len(found) == 1:
                fid = found.pop()
                return next(i for i in images if i["id"] == fid)
        raise NotFound(f"No such image: {ref if ':' in ref or '@' in ref else ref + ':latest'}")

    # --- containers: create -------------------------------------------------------------

    def runtime_path(self, name: str) -> tuple:
        """(name, binary) of an OCI runtime by its name (the default for
        ""); binary "" is our own runc."""
        name = name or self.config.default_runtime
        if name == "runc":
            return name, ""
        found = (self.config.runtimes or {}).get(name)
        if not isinstance(found, dict) or not found.get("path"):
            raise InvalidArgument(f"Unknown runtime specified {name}")
        import shutil
        path = found["path"] if found["path"].startswith("/") else shutil.which(found["path"])
        if not path:
            raise InvalidArgument(f"runtime {name}: {found['path']}: executable file not found in $PATH")
        return name, path

    async def create(self, name: str | None, body: dict) -> tuple:
        """(container, warnings)"""
        from busybox_engine.api.validate import check_create
        config, host_config = check_create(body)
        from busybox_engine.api.sysinfo import verify
        warnings = verify(host_config)
        check_extra_hosts(host_config.get("ExtraHosts") or [])
        from busybox_engine.api import logopts
        host_config["LogConfig"] = logopts.resolve(host_config["LogConfig"], self.config.log_driver,
                                                   self.config.log_opts)
        host_config["Runtime"], runtime = self.runtime_path(host_config.get("Runtime") or "")
        image = await self.image(config["Image"])
        img_cfg = (image.get("config") or {}).get("config") or {}
        config = merge_image_config(config, img_cfg)
        if not config.get("Entrypoint") and not config.get("Cmd"):
            raise InvalidArgument("No command specified")
        full = self.containers.reserve(name)
        try:
            cmd = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
            extra = {"Path": cmd[0], "Args": cmd[1:], "ImageName": image["name"],
                     "EndpointsConfig": endpoints_config(body, host_config)}
            c = self.containers.add(full, config, host_config, image["id"], extra)
        except BaseException:
            self.containers.reserved.discard(full)
            raise
        made = []
        try:
            write_etc_files(c)
            from busybox_engine.api.mounts import resolve
            mounts, points, made = resolve(config, host_config, self.volumes, self.containers)
            c.data["MountPoints"] = points
            c.data["Mounts"] = mounts
            c.save()
            spec = specs.build(c.id, c.dir, config, with_default_ulimits(host_config, self.config.default_ulimits),
                               {}, mounts, self.seccomp_profile, self.config.init)
            await self.ctd.call("containers.create", id=c.id, spec=spec, image=image["name"],
                                runtime=runtime,
                                labels={"com.docker/engine.bundle.path": c.dir})
            await self._fill_volumes(c, points, host_config)
        except BaseException:
            self.containers.remove(c)
            for name in made:
                self.volumes.remove(name)
            raise
        if host_config.get("NetworkMode") in ("default", "bridge"):
            sys.stderr.write(f"dockerd: container {c.id[:12]}: the bridge network is not "
                             "available yet; it gets loopback only\n")
        self.container_event(c, "create")
        return c, warnings

    async def _fill_volumes(self, c: Container, points: list, host_config: dict) -> None:
        """Empty volumes get the image's content at their mount points."""
        from busybox_engine.api import volumecopy
        todo = volumecopy.wanted(points, volumecopy.nocopy_targets(host_config))
        if not todo:
            return
        root = await self.ctd.call("containers.mount", id=c.id)
        try:
            await asyncio.get_running_loop().run_in_executor(None, volumecopy.populate, root, todo)
        finally:
            await self.ctd.call("containers.unmount", id=c.id)

    # --- containers: lifecycle ------------------------------------------------------------

    async def start(self, c: Container) -> None:
        if c.starting is not None:
            await asyncio.shield(c.starting)   # one start at a time
        if c.state["Running"]:
            raise NotModified()
        c.starting = asyncio.get_running_loop().create_future()
        try:
            await self._start(c)
        finally:
            done, c.starting = c.starting, None
            done.set_result(None)

    async def _start(self, c: Container) -> None:
        if c.state.get("Removing") or c.state["Dead"]:
            raise FailedPrecondition(f"container {c.id} is marked for removal and cannot be started")
        from busybox_engine.api.networks import join_namespaces
        await join_namespaces(self, c)
        log = c.host_config.get("LogConfig") or {}
        log_type = log.get("Type") or "json-file"
        log_path = c.log_path if log_type in ("json-file", "local") else ""
        from busybox_engine.api.logopts import rotation
        max_size, max_files = rotation(log_type, log.get("Config") or {})
        try:
            await self.ctd.call("tasks.delete", container_id=c.id, force=True)
        except NotFound:
            pass
        try:
            try:
                created = await self.ctd.call("tasks.create", container_id=c.id,
                                    stdin=bool(c.config.get("OpenStdin")),
                                    terminal=bool(c.config.get("Tty")), log_path=log_path,
                                    log_max_size=max_size, log_max_files=max_files)
            except RPCError:
                await self._start_failed(c, created=False)
                raise
            try:
                await self._connect_networks(c, created.get("pid") or 0)
            except RPCError:
                await self._start_failed(c, created=True)
                raise
            except OSError as e:
                await self._start_failed(c, created=True)
                raise RPCError(f"failed to set up the container's network: {e}") from None
            # attached before it runs: not a byte of its output is missed
            attaching, c.attaching = c.attaching, []
            for start_attach in attaching:
                await start_attach()
            try:
                result = await self.ctd.call("tasks.start", container_id=c.id)
            except RPCError:
                await self._start_failed(c, created=True)
                raise
        except RPCError as e:
            code = exit_code_for(e.message)
            c.state.update(Error=e.message, ExitCode=code, Running=False, Pid=0,
                           Status="created" if c.state["StartedAt"] == ZERO_TIME else "exited")
            if self.containers.by_id.get(c.id) is c:
                c.save()
            if c.host_config.get("AutoRemove"):
                try:
                    await self.remove(c, force=True)
                except RPCError as err:
                    sys.stderr.write(f"dockerd: auto-remove {c.id[:12]}: {err}\n")
            raise RuntimeFailure(e.message, code) from None
        c.stopping = False
        c.data["HasBeenManuallyStopped"] = False
        c.state.update(Status="running", Running=True, Paused=False, Restarting=False,
                       OOMKilled=False, Dead=False, Pid=result.get("pid", 0), ExitCode=0, Error="",
                       StartedAt=rfc3339nano(), FinishedAt=ZERO_TIME)
        c.save()
        self.container_event(c, "start")
        self._watch_health(c)

    def _watch_health(self, c: Container) -> None:
        if c.health_task is not None:
            c.health_task.cancel()
            c.health_task = None
        check = c.config.get("Healthcheck") or {}
        from busybox_engine.api.health import monitor, probe_command
        if probe_command(check.get("Test") or []) is not None:
            c.health_task = asyncio.get_running_loop().create_task(monitor(self, c))

    def networks_of(self, c: Container) -> list:
        """The networks c is on (those connected, its NetworkMode's first):
        [] for host, none and container: modes; the default bridge only
        when there is one."""
        mode = c.host_config.get("NetworkMode") or "default"
        if mode in ("host", "none") or mode.startswith("container:"):
            return []
        first = "bridge" if mode == "default" else mode
        cfg = c.data.get("EndpointsConfig")
        names = [first] if cfg is None else sorted(cfg, key=lambda n: n != first)
        return [n for n in names if n != "bridge" or self.networks.enabled]

    async def _connect_networks(self, c: Container, pid: int) -> None:
        """Between create and start: the container's endpoints, in the
        namespace runc made (eth0 on its first network, eth1...); its
        address goes in /etc/hosts before the program runs."""
        c.data.pop("Endpoints", None)
        nets = self.networks_of(c)
        if not nets or not pid:
            return
        names = [n if n == "bridge" else self.networks.find(n)["Name"] for n in nets]
        c.data["Endpoints"] = {}
        settings = c.data.get("EndpointsConfig") or {}
        for name in names:
            await self._attach_endpoint(c, pid, name, settings.get(name) or {})
        first = c.data["Endpoints"][names[0]]
        write_hosts(c, first["IPAddress"], self.networks.subnet("bridge").get("Gateway", ""))
        if any(n != "bridge" for n in c.data["Endpoints"]):
            await self._serve_dns(c, pid)
        c.data["Ports"] = await self.ports.publish(c.id, c.name.lstrip("/"), first["EndpointID"],
                                                   first["IPAddress"], c.host_config, c.config,
                                                   self.networks.bridge_of(nets[0]))

    async def _attach_endpoint(self, c: Container, pid: int, name: str, settings: dict) -> None:
        """c on one more network: eth0 (with the default route and the
        container's MAC) for its first, eth1... for the others."""
        eps = c.data.setdefault("Endpoints", {})
        ip = ((settings.get("IPAMConfig") or {}).get("IPv4Address") or "") if name != "bridge" else ""
        mac = (c.config.get("MacAddress") or "") if not eps else ""
        ep = await asyncio.get_running_loop().run_in_executor(
            None, self.networks.connect, c.id, f"/proc/{pid}/ns/net", name, ip, mac, f"eth{len(eps)}", not eps)
        ep["Aliases"] = (settings.get("Aliases") or []) + ([c.id[:12]] if name != "bridge" else [])
        eps[name] = ep

    async def _serve_dns(self, c: Container, pid: int) -> None:
        """On a user network: the embedded DNS server in its namespace, and
        /etc/resolv.conf pointing there."""
        from busybox_engine.network import dns
        await self.resolver.serve(c.id, f"/proc/{pid}/ns/net", c.host_config.get("Dns") or [])
        try:
            with open("/etc/resolv.conf") as f:
                host = f.read()
        except OSError:
            host = ""
        with open(os.path.join(c.dir, "resolv.conf"), "w") as f:
            f.write(dns.resolv_conf(host, c.host_config.get("DnsSearch") or [],
                                    c.host_config.get("DnsOptions") or []))

    def _dns_lookup(self, cid: str, name: str) -> list | None:
        """Addresses of name for container cid: the running containers that
        share a user network with it, by name, alias or short id."""
        me = self.containers.by_id.get(cid)
        if me is None:
            return None
        mine = {n for n in (me.data.get("Endpoints") or {}) if n != "bridge"}
        found = []
        for other in self.containers.all():
            if not other.state["Running"]:
                continue
            for net, ep in (other.data.get("Endpoints") or {}).items():
                if net not in mine:
                    continue
                names = {other.name.lstrip("/").lower(), *(a.lower() for a in ep.get("Aliases") or [])}
                if name in names and ep.get("IPAddress") and ep["IPAddress"] not in found:
                    found.append(ep["IPAddress"])
        return found or None

    async def connect_network(self, c: Container, name: str, settings: dict) -> None:
        """docker network connect: recorded for its next start, and made
        now (eth1, eth2...) when it runs."""
        mode = c.host_config.get("NetworkMode") or "default"
        if mode in ("host", "none") or mode.startswith("container:"):
            raise HTTPError(403, "container cannot be connected to multiple networks with one of the networks "
                                 "in private (none) mode" if mode == "none" else
                            "container sharing network namespace with another container or host cannot be "
                            "connected to any other network")
        if name in (c.data.get("EndpointsConfig") or {}) or name in (c.data.get("Endpoints") or {}):
            raise HTTPError(403, f"endpoint with name {c.name.lstrip('/')} already exists in network {name}")
        if not isinstance(settings, dict):
            raise InvalidArgument("EndpointConfig must be an object")
        if c.state["Running"] and c.state["Pid"]:
            await self._attach_endpoint(c, c.state["Pid"], name, settings)
            await self.resolver.serve(c.id, f"/proc/{c.state['Pid']}/ns/net", c.host_config.get("Dns") or [])
        c.data.setdefault("EndpointsConfig", {})[name] = settings
        c.save()
        self.emit("network", "connect", self.networks.user[name]["Id"], {"container": c.id, "name": name,
                                                                          "type": "bridge"})

    async def disconnect_network(self, c: Container, name: str, force: bool = False) -> None:
        known = name in (c.data.get("EndpointsConfig") or {}) or name in (c.data.get("Endpoints") or {})
        if not known:
            raise HTTPError(403 if not force else 404,
                            f"container {c.id} is not connected to network {name}")
        if name in (c.data.get("Endpoints") or {}):
            await asyncio.get_running_loop().run_in_executor(None, self.networks.disconnect, c.id, name)
            c.data["Endpoints"].pop(name, None)
        (c.data.get("EndpointsConfig") or {}).pop(name, None)
        c.save()
        self.emit("network", "disconnect", self.networks.user[name]["Id"], {"container": c.id, "name": name,
                                                                             "type": "bridge"})

    async def _disconnect_networks(self, c: Container) -> None:
        """Ports, lease and veth given back. Its exit and its removal may
        both ask: the second waits for the first, so neither returns early."""
        lock = self._net_locks.setdefault(c.id, asyncio.Lock())
        async with lock:
            c.data.pop("Ports", None)
            await self.ports.unpublish(c.id)
            self.resolver.stop(c.id)
            if c.data.pop("Endpoints", None) is None:
                return
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.networks.disconnect, c.id)
            except (RPCError, OSError) as e:
                sys.stderr.write(f"dockerd: container {c.id[:12]}: network teardown: {e}\n")

    async def _start_failed(self, c: Container, created: bool) -> None:
        """Attaches waiting for this start end; what was made goes."""
        attaching, c.attaching = c.attaching, []
        for start_attach in attaching:
            await start_attach(failed=True)
        if created:
            try:
                await self.ctd.call("tasks.delete", container_id=c.id, force=True)
            except RPCError:
                pass
        await self._disconnect_networks(c)

    async def _exited(self, c: Container, status, exited_at, pid=None) -> None:
        if c.starting is not None:
            # a fast exit can be told before tasks.start has answered: it
            # belongs to the start under way, once that start is recorded
            await asyncio.shield(c.starting)
        if not c.state["Running"] and not c.state["Restarting"]:
            return
        if pid and c.state["Pid"] and pid != c.state["Pid"]:
            return   # an earlier run's exit, told twice (event and resync)
        try:
            await self.ctd.call("tasks.delete", container_id=c.id, force=True)
        except RPCError:
            pass
        if self.containers.by_id.get(c.id) is not c:
            return
        code = status if isinstance(status, int) else 255
        await self._disconnect_networks(c)
        if c.health_task is not None:
            c.health_task.cancel()
            c.health_task = None
        if "Health" in c.state:
            c.state["Health"]["Status"] = "unhealthy"
        c.state.update(Status="exited", Running=False, Paused=False, Pid=0, ExitCode=code,
                       FinishedAt=exited_at or rfc3339nano())
        c.save()
        self.container_event(c, "die", exitCode=code)
        self._forget_execs_of(c)
        waiters, c.waiters = c.waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(code)
        if c.host_config.get("AutoRemove"):
            try:
                await self.remove(c, force=True)
            except RPCError as e:
                sys.stderr.write(f"dockerd: auto-remove {c.id[:12]}: {e}\n")
            return
        if self._should_restart(c, code):
            c.restart_task = asyncio.get_running_loop().create_task(self._restart_later(c))

    def _should_restart(self, c: Container, code: int) -> bool:
        policy = c.host_config.get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if c.stopping or name == "no":
            return False
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure":
            limit = int(policy.get("MaximumRetryCount") or 0)
            return code != 0 and (limit == 0 or c.data.get("RestartCount", 0) < limit)
        return False

    async def _restart_later(self, c: Container) -> None:
        # Docker's back-off: 100 ms doubling each time, reset after 10 s of running
        started = parse_rfc3339(c.state["StartedAt"])
        finished = parse_rfc3339(c.state["FinishedAt"]) or time.time()
        delay = c.data.get("RestartDelay", 0.0)
        delay = 0.1 if finished - started >= 10 or not delay else min(delay * 2, 60.0)
        c.data["RestartDelay"] = delay
        c.state["Restarting"] = True
        c.state["Status"] = "restarting"
        c.save()
        await asyncio.sleep(delay)
        if c.stopping or self.containers.by_id.get(c.id) is not c:
            return
        c.data["RestartCount"] = c.data.get("RestartCount", 0) + 1
        try:
            c.state["Restarting"] = False
            await self.start(c)
        except (RPCError, RuntimeFailure) as e:
            sys.stderr.write(f"dockerd: restarting {c.id[:12]}: {e}\n")
        finally:
            c.restart_task = None

    async def kill(self, c: Container, signal: int = 9) -> None:
        if not c.state["Running"]:
            raise FailedPrecondition(f"Cannot kill container: {c.id}: Container {c.id} is not running")
        if signal in (9, 15, 2):
            c.stopping = True
            c.data["HasBeenManuallyStopped"] = True
        try:
            await self.ctd.call("tasks.kill", container_id=c.id, signal=signal)
        except NotFound:
            raise FailedPrecondition(f"Cannot kill container: {c.id}: Container {c.id} is not running") from None
        self.container_event(c, "kill", signal=signal)

    async def stop(self, c: Container, timeout: int | None = None, manual: bool = True) -> bool:
        """False when it was not running (304)."""
        if c.starting is not None:
            # a start under way (a restart policy's, or the daemon's own at
            # boot) finishes first: then it is stopped, and stays stopped
            await asyncio.shield(c.starting)
        c.stopping = True
        if manual:
            c.data["HasBeenManuallyStopped"] = True
        if c.restart_task is not None:
            c.restart_task.cancel()
            c.restart_task = None
            c.state.update(Restarting=False, Status="exited")
            c.save()
        if not c.state["Running"]:
            return False
        if timeout is None:
            timeout = c.config.get("StopTimeout")
            timeout = 10 if timeout is None else int(timeout)
        sig = parse_signal(c.config.get("StopSignal"), 15)
        waiter = asyncio.get_running_loop().create_future()
        c.waiters.append(waiter)
        if c.state["Paused"]:
            await self.ctd.call("tasks.resume", container_id=c.id)
        try:
            await self.ctd.call("tasks.kill", container_id=c.id, signal=sig)
        except NotFound:
            pass
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout if timeout >= 0 else None)
        except asyncio.TimeoutError:
            try:
                await self.ctd.call("tasks.kill", container_id=c.id, signal=9, all=True)
            except NotFound:
                pass
            try:
                await asyncio.wait_for(asyncio.shield(waiter), 30)
            except asyncio.TimeoutError:
                raise RPCError(f"container {c.id} did not stop") from None
        self.container_event(c, "stop")
        return True

    async def wait_exit(self, c: Container) -> int:
        waiter = asyncio.get_running_loop().create_future()
        c.waiters.append(waiter)
        return await waiter

    async def pause(self, c: Container) -> None:
        if not c.state["Running"]:
            raise FailedPrecondition(f"Container {c.id} is not running")
        if c.state["Paused"]:
            raise FailedPrecondition(f"Container {c.id} is already paused")
        await self.ctd.call("tasks.pause", container_id=c.id)
        c.state.update(Paused=True, Status="paused")
        c.save()
        self.container_event(c, "pause")

    async def unpause(self, c: Container) -> None:
        if not c.state["Paused"]:
            raise FailedPrecondition(f"Container {c.id} is not paused")
        await self.ctd.call("tasks.resume", container_id=c.id)
        c.state.update(Paused=False, Status="running")
        c.save()
        self.container_event(c, "unpause")

    async def remove(self, c: Container, force: bool = False, volumes: bool = False) -> None:
        if c.state["Running"] or c.state["Restarting"]:
            if not force:
                verb = "restarting" if c.state["Restarting"] else "running"
                raise AlreadyExists(f"You cannot remove a {verb} container {c.id}. Stop the "
                                    "container before attempting removal or force remove")
            c.stopping = True
            if c.restart_task is not None:
                c.restart_task.cancel()
            try:
                await self.ctd.call("tasks.delete", container_id=c.id, force=True)
            except NotFound:
                pass
        if c.state.get("Removing"):
            return
        c.state["Removing"] = True
        try:
            await self.ctd.call("tasks.delete", container_id=c.id, force=True)
        except NotFound:
            pass
        await self._disconnect_networks(c)
        self._net_locks.pop(c.id, None)
        try:
            await self.ctd.call("containers.delete", id=c.id)
        except NotFound:
            pass
        self.containers.remove(c)
        if volumes or c.host_config.get("AutoRemove"):
            # its anonymous volumes go with it (named ones stay, as in Docker)
            for p in c.data.get("MountPoints") or []:
                name = p.get("Name")
                if p["Type"] == "volume" and name and len(name) == 64 and not self._volume_used(name):
                    try:
                        if "com.docker.volume.anonymous" in self.volumes.get(name)["Labels"]:
                            self.volumes.remove(name)
                    except (NotFound, OSError):
                        pass
        waiters, c.waiters = c.waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(c.state.get("ExitCode", 0))
        if c.removed is not None and not c.removed.done():
            c.removed.set_result(None)
        self.container_event(c, "destroy")


    def process_spec(self, c: Container) -> dict:
        """The OCI process of c's spec: what an exec or a health probe starts from."""
        return specs.build(c.id, c.dir, c.config, c.host_config, {}, c.data.get("Mounts"))["process"]

    def _forget_execs_of(self, c: Container) -> None:
        for eid in [k for k, e in self.execs.items() if e["ContainerID"] == c.id]:
            del self.execs[eid]

    def _volume_used(self, name: str) -> bool:
        return any(p.get("Name") == name for c in self.containers.all()
                   for p in c.data.get("MountPoints") or [])


class NotModified(Exception):
    """304: already in the state asked for."""


class RuntimeFailure(RPCError):
    """The runtime could not start the process: Docker's 400/404 by cause,
    and `docker run`'s 126/127."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.exit_code = code
        self.http_status = 400 if code == 126 or code == 127 else 500


def exit_code_for(message: str) -> int:
    """What `docker run` exits with when the process could not start."""
    m = message.lower()
    if "no such file" in m or "not found" in m:
        return 127
    if "permission denied" in m or "is a directory" in m or "exec format" in m:
        return 126
    return 128


def with_default_ulimits(host_config: dict, defaults: dict) -> dict:
    """host_config with the daemon's --default-ulimit for what it does not
    set itself (merged into the spec as Docker does, not into the record)."""
    if not defaults:
        return host_config
    own = {str(u.get("Name", "")).lower() for u in host_config.get("Ulimits") or [] if isinstance(u, dict)}
    extra = [dict(u) for name, u in sorted(defaults.items()) if name.lower() not in own]
    return dict(host_config, Ulimits=list(host_config.get("Ulimits") or []) + extra)


def merge_image_config(config: dict, img: dict) -> dict:
    """The container's Config with the image's filling what it leaves out,
    as Docker merges them at create."""
    out = dict(config)
    if out.get("Entrypoint") is None:
        out["Entrypoint"] = img.get("Entrypoint")
        if not out.get("Cmd"):
            out["Cmd"] = img.get("Cmd")
    out["Env"] = specs.merge_env(img.get("Env") or [], out.get("Env") or [])
    for key in ("WorkingDir", "User", "StopSignal"):
        if not out.get(key) and img.get(key):
            out[key] = img[key]
    if not out.get("Healthcheck") and img.get("Healthcheck"):
        out["Healthcheck"] = img["Healthcheck"]
    labels = dict(img.get("Labels") or {})
    labels.update(out.get("Labels") or {})
    out["Labels"] = labels
    for key in ("ExposedPorts", "Volumes"):
        merged = dict(img.get(key) or {})
        merged.update(out.get(key) or {})
        out[key] = merged or None
    return out


def endpoints_config(body: dict, host_config: dict) -> dict:
    """The networks a new container is on, with its settings for each: its
    NetworkingConfig's, and its NetworkMode's network (the default bridge
    for default) first."""
    eps = (body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    eps = {str(k): (v if isinstance(v, dict) else {}) for k, v in eps.items()} if isinstance(eps, dict) else {}
    mode = host_config.get("NetworkMode") or "default"
    if mode in ("host", "none") or mode.startswith("container:"):
        return {}
    first = "bridge" if mode == "default" else mode
    return {first: eps.pop(first, None) or eps.pop(mode, None) or {}, **eps}


def check_extra_hosts(entries: list) -> None:
    from busybox_engine.util.extrahosts import check
    for entry in entries:
        try:
            check(entry)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None


def write_hosts(c: Container, ip: str = "", gateway: str = "") -> None:
    """/etc/hosts: localhost, the --add-host entries (host-gateway is the
    default bridge's address), then the container's name for its address
    (127.0.0.1 without a network of its own), as Docker writes it."""
    hostname = c.config.get("Hostname") or c.id[:12]
    with open(os.path.join(c.dir, "hosts"), "w") as f:
        f.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                "ff02::2\tip6-allrouters\n")
        for entry in c.host_config.get("ExtraHosts") or []:
            name, _, addr = entry.partition(":")
            if addr == "host-gateway":
                addr = gateway
            if addr:
                f.write(f"{addr.strip('[]')}\t{name}\n")
        if c.host_config.get("NetworkMode") != "host":
            f.write(f"{ip or '127.0.0.1'}\t{hostname}\n")


def write_etc_files(c: Container) -> None:
    """/etc/hostname, /etc/hosts, /etc/resolv.conf of the container (bound
    from its directory, so a restart keeps them)."""
    hostname = c.config.get("Hostname") or c.id[:12]
    with open(os.path.join(c.dir, "hostname"), "w") as f:
        f.write(hostname + "\n")
    write_hosts(c)
    with open(os.path.join(c.dir, "resolv.conf"), "w") as f:
        f.write(host_resolv_conf(c.host_config))


def host_resolv_conf(host_config: dict) -> str:
    """The host's resolv.conf, loopback nameservers dropped as Docker does
    (they mean nothing in the container's network namespace)."""
    try:
        with open("/etc/resolv.conf") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    out = []
    for line in lines:
        parts = line.split()
        if parts[:1] == ["nameserver"] and len(parts) > 1 and (
                parts[1].startswith("127.") or parts[1] == "::1"):
            continue
        if host_config.get("Dns") and parts[:1] == ["nameserver"]:
            continue
        if host_config.get("DnsSearch") and parts[:1] in (["search"], ["domain"]):
            continue
        if host_config.get("DnsOptions") and parts[:1] == ["options"]:
            continue
        out.append(line)
    out += [f"nameserver {d}" for d in host_config.get("Dns") or []]
    if host_config.get("DnsSearch"):
        out.append("search " + " ".join(host_config["DnsSearch"]))
    if host_config.get("DnsOptions"):
        out.append("options " + " ".join(host_config["DnsOptions"]))
    if not any(line.startswith("nameserver") for line in out) and host_config.get("NetworkMode") != "none":
        out += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    return "\n".join(out) + "\n"
