"""/containers/... and /exec/...: the Engine API's container endpoints."""
import asyncio
import json
import os
import secrets
import shlex
import time

from busybox_engine.api.engine import NotModified, RuntimeFailure, parse_signal
from busybox_engine.api.http import STREAMED, HTTPError, Request, Response, json_response
from busybox_engine.api.networks import container_networks
from busybox_engine.api.records import ZERO_TIME
from busybox_engine.api.streams import DEFAULT_DETACH_KEYS, STDERR, STDOUT, Splice, frame, parse_detach_keys
from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument, NotFound, RPCError
from busybox_engine.util.timefmt import human_duration, parse_rfc3339


def register(r, engine) -> None:
    h = ContainerRoutes(engine)
    r.add("POST", "/containers/create", h.create)
    r.add("POST", "/containers/prune", h.prune)
    r.add("GET", "/containers/json", h.list)
    r.add("GET", "/containers/{id}/json", h.inspect)
    r.add("POST", "/containers/{id}/start", h.start)
    r.add("POST", "/containers/{id}/stop", h.stop)
    r.add("POST", "/containers/{id}/restart", h.restart)
    r.add("POST", "/containers/{id}/kill", h.kill)
    r.add("POST", "/containers/{id}/wait", h.wait)
    r.add("POST", "/containers/{id}/attach", h.attach)
    r.add("GET", "/containers/{id}/logs", h.logs)
    r.add("DELETE", "/containers/{id}", h.delete)
    r.add("POST", "/containers/{id}/pause", h.pause)
    r.add("POST", "/containers/{id}/unpause", h.unpause)
    r.add("POST", "/containers/{id}/rename", h.rename)
    r.add("POST", "/containers/{id}/resize", h.resize)
    r.add("GET", "/containers/{id}/top", h.top)
    r.add("GET", "/containers/{id}/stats", h.stats)
    r.add("GET", "/containers/{id}/archive", h.archive_get)
    r.add("PUT", "/containers/{id}/archive", h.archive_put)
    r.add("GET", "/containers/{id}/export", h.export)
    r.add("POST", "/containers/{id}/exec", h.exec_create)
    r.add("POST", "/exec/{id}/start", h.exec_start)
    r.add("POST", "/exec/{id}/resize", h.exec_resize)
    r.add("GET", "/exec/{id}/json", h.exec_inspect)


def _command(c) -> str:
    args = [c.data.get("Path", "")] + list(c.data.get("Args") or [])
    return " ".join(shlex.quote(a) if (" " in a or not a) else a for a in args)


def status_text(c) -> str:
    st = c.state
    now = time.time()
    if st.get("Removing"):
        return "Removal In Progress"
    if st["Dead"]:
        return "Dead"
    if st["Restarting"]:
        return (f"Restarting ({st['ExitCode']}) "
                f"{human_duration(now - parse_rfc3339(st['FinishedAt']))} ago")
    if st["Running"]:
        up = f"Up {human_duration(now - parse_rfc3339(st['StartedAt']))}"
        if st["Paused"]:
            return up + " (Paused)"
        health = (st.get("Health") or {}).get("Status")
        if health == "starting":
            return up + " (health: starting)"
        return up + f" ({health})" if health else up
    if st["FinishedAt"] == ZERO_TIME:
        return "Created"
    return f"Exited ({st['ExitCode']}) {human_duration(now - parse_rfc3339(st['FinishedAt']))} ago"


def _filters(req: Request) -> dict:
    f = req.json_arg("filters", {}) or {}
    if not isinstance(f, dict):
        raise InvalidArgument("invalid filter: not a map")
    out = {}
    for key, values in f.items():
        if isinstance(values, dict):
            values = [k for k, v in values.items() if v]
        if not isinstance(values, list):
            raise InvalidArgument(f"invalid filter '{key}'")
        out[key] = [str(v) for v in values]
    return out


class ContainerRoutes:
    def __init__(self, engine):
        self.engine = engine

    def _get(self, req: Request):
        return self.engine.containers.get(req.params["id"])

    # --- create, list, inspect -------------------------------------------------------

    async def create(self, req: Request) -> Response:
        body = await req.json()
        name = req.arg("name") or None
        c, warnings = await self.engine.create(name, body)
        return json_response({"Id": c.id, "Warnings": warnings}, 201)

    def list(self, req: Request) -> Response:
        show_all = req.flag("all")
        limit = req.int_arg("limit", -1)
        filters = _filters(req)
        known = {"status", "label", "name", "id", "exited", "ancestor", "before", "since",
                 "health", "network", "volume", "isolation", "publish", "expose", "is-task"}
        for key in filters:
            if key not in known:
                raise InvalidArgument(f"invalid filter '{key}'")
        if limit > 0 or any(k in filters for k in ("status", "exited")):
            show_all = True if "status" in filters or "exited" in filters or limit > 0 else show_all
        cs = sorted(self.engine.containers.all(), key=lambda c: c.data["Created"], reverse=True)
        out = []
        for c in cs:
            if not show_all and not c.state["Running"]:
                continue
            if not _matches(c, filters):
                continue
            out.append(self.summary_json(c))
            if 0 < limit <= len(out):
                break
        return Response(200, ("[" + ",".join(out) + "]").encode(), content_type="application/json")

    def summary_json(self, c) -> str:
        """summary(c) as JSON; what never changes (all but State, Status
        and Names) is encoded once and kept on the container."""
        if c.listing is None or c.listing[0] != c.name:
            fixed = self.summary(c)
            for key in ("State", "Status"):
                del fixed[key]
            c.listing = (c.name, json.dumps(fixed)[:-1])
        return (c.listing[1] + ', "State": ' + json.dumps(c.state["Status"]) + ', "Status": '
                + json.dumps(status_text(c)) + "}")

    def summary(self, c) -> dict:
        return {"Id": c.id, "Names": [c.name], "Image": c.config.get("Image", ""),
                "ImageID": c.data.get("Image", ""), "Command": _command(c),
                "Created": int(parse_rfc3339(c.data["Created"])), "Ports": _port_list(c),
                "Labels": c.config.get("Labels") or {}, "State": c.state["Status"],
                "Status": status_text(c),
                "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode", "default")},
                "NetworkSettings": {"Networks": container_networks(self.engine, c)},
                "Mounts": c.data.get("MountPoints") or []}

    def inspect(self, req: Request) -> Response:
        c = self._get(req)
        return json_response(self.inspect_data(c))

    def inspect_data(self, c) -> dict:
        st = dict(c.state)
        st.pop("Removing", None)
        hc = dict(c.host_config)
        for k, v in (("Binds", None), ("Privileged", False), ("ReadonlyRootfs", False),
                     ("AutoRemove", False), ("CapAdd", None), ("CapDrop", None),
                     ("Memory", 0), ("NanoCpus", 0), ("CpuShares", 0), ("PidsLimit", None),
                     ("ShmSize", 64 * 1024 * 1024), ("IpcMode", "private"), ("PidMode", ""),
                     ("UTSMode", ""), ("CgroupnsMode", "host"), ("Runtime", "runc"),
                     ("SecurityOpt", None), ("Tmpfs", None), ("Init", None),
                     ("MemorySwap", 0), ("MemoryReservation", 0), ("OomKillDisable", False)):
            hc.setdefault(k, v)
        cfg = dict(c.config)
        cfg.setdefault("Hostname", c.id[:12])
        for k, v in (("Domainname", ""), ("User", ""), ("AttachStdin", False),
                     ("AttachStdout", False), ("AttachStderr", False), ("Tty", False),
                     ("OpenStdin", False), ("StdinOnce", False), ("WorkingDir", ""),
                     ("OnBuild", None), ("Labels", {})):
            cfg.setdefault(k, v)
        return {
            "Id": c.id, "Created": c.data["Created"], "Path": c.data.get("Path", ""),
            "Args": c.data.get("Args") or [], "State": st, "Image": c.data.get("Image", ""),
            "ResolvConfPath": os.path.join(c.dir, "resolv.conf"),
            "HostnamePath": os.path.join(c.dir, "hostname"),
            "HostsPath": os.path.join(c.dir, "hosts"),
            "LogPath": c.log_path if hc.get("LogConfig", {}).get("Type") != "none" else "",
            "Name": c.name, "RestartCount": c.data.get("RestartCount", 0), "Driver": "overlay2",
            "Platform": "linux", "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
            "ExecIDs": [e["ID"] for e in self.engine.execs.values() if e["ContainerID"] == c.id] or None,
            "HostConfig": hc,
            "GraphDriver": {"Data": None, "Name": "overlay2"},
            "Mounts": c.data.get("MountPoints") or [],
            "Config": cfg,
            "NetworkSettings": self._network_settings(c),
        }

    def _network_settings(self, c) -> dict:
        """As Docker's inspect: the default bridge's endpoint also at the top level."""
        bridge = (c.data.get("Endpoints") or {}).get("bridge") or {}
        return {"Bridge": "", "SandboxID": "", "HairpinMode": False,
                "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
                "Ports": c.data.get("Ports") or {}, "SandboxKey": f"/proc/{c.state['Pid']}/ns/net" if c.state["Pid"] else "",
                "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
                "EndpointID": bridge.get("EndpointID", ""), "Gateway": bridge.get("Gateway", ""),
                "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": bridge.get("IPAddress", ""),
                "IPPrefixLen": bridge.get("IPPrefixLen", 0), "IPv6Gateway": "",
                "MacAddress": bridge.get("MacAddress", ""),
                "Networks": container_networks(self.engine, c)}

    async def prune(self, req: Request) -> Response:
        filters = _filters(req)
        until = _time_arg(filters.get("until", [None])[-1]) if filters.get("until") else 0
        deleted, space = [], 0
        for c in list(self.engine.containers.all()):
            if c.state["Running"] or c.state["Restarting"]:
                continue
            if until and parse_rfc3339(c.data["Created"]) > until:
                continue
            if not _matches(c, {k: v for k, v in filters.items() if k == "label"}):
                continue
            if any(_matches(c, {"label": [v]}) for v in filters.get("label!", [])):
                continue
            await self.engine.remove(c)
            deleted.append(c.id)
        return json_response({"ContainersDeleted": deleted or None, "SpaceReclaimed": space})

    # --- lifecycle -------------------------------------------------------------------

    async def start(self, req: Request) -> Response:
        c = self._get(req)
        body = await req.read_body()
        if body.strip() not in (b"", b"null", b"{}"):
            raise InvalidArgument("starting container with non-empty request body was "
                                  "deprecated since API v1.22 and removed in v1.24")
        try:
            await self.engine.start(c)
        except NotModified:
            return Response(304)
        except RuntimeFailure as e:
            raise HTTPError(e.http_status, f"failed to create shim task: OCI runtime create "
                                           f"failed: {e.message}: unknown") from None
        return Response(204)

    async def stop(self, req: Request) -> Response:
        c = self._get(req)
        t = req.arg("t")
        timeout = None if t in (None, "") else req.int_arg("t")
        if not await self.engine.stop(c, timeout):
            return Response(304)
        return Response(204)

    async def restart(self, req: Request) -> Response:
        c = self._get(req)
        t = req.arg("t")
        timeout = None if t in (None, "") else req.int_arg("t")
        await self.engine.stop(c, timeout)
        try:
            await self.engine.start(c)
        except NotModified:
            pass
        except RuntimeFailure as e:
            raise HTTPError(e.http_status, e.message) from None
        self.engine.container_event(c, "restart")
        return Response(204)

    async def kill(self, req: Request) -> Response:
        c = self._get(req)
        await self.engine.kill(c, parse_signal(req.arg("signal"), 9))
        return Response(204)

    async def pause(self, req: Request) -> Response:
        await self.engine.pause(self._get(req))
        return Response(204)

    async def unpause(self, req: Request) -> Response:
        await self.engine.unpause(self._get(req))
        return Response(204)

    async def rename(self, req: Request) -> Response:
        c = self._get(req)
        new = req.arg("name") or ""
        if not new:
            raise InvalidArgument("Neither old nor new names may be empty")
        old = c.name
        self.engine.containers.rename(c, new)
        self.engine.container_event(c, "rename", oldName=old)
        return Response(204)

    async def delete(self, req: Request) -> Response:
        c = self._get(req)
        await self.engine.remove(c, force=req.flag("force"), volumes=req.flag("v"))
        return Response(204)

    async def wait(self, req: Request):
        c = self._get(req)
        condition = req.arg("condition") or "not-running"
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: \"{condition}\"")
        loop = asyncio.get_running_loop()
        if condition == "removed":
            if c.removed is None:
                c.removed = loop.create_future()
            fut = c.removed
        elif condition == "not-running" and not c.state["Running"] and not c.state["Restarting"]:
            fut = loop.create_future()
            fut.set_result(None)
        else:
            fut = loop.create_future()
            c.waiters.append(fut)
        # headers at once (the CLI starts the container after it has them)
        w = await req.stream(200, "application/json")
        gone = asyncio.ensure_future(req.disconnected())
        try:
            await asyncio.wait([fut, gone], return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not fut.done():
            return STREAMED
        code = c.state.get("ExitCode", 0)
        err = c.state.get("Error") or None
        await w.write(json.dumps({"StatusCode": code, "Error": {"Message": err} if err else None}).encode() + b"\n")
        await w.end()
        return STREAMED

    async def resize(self, req: Request) -> Response:
        c = self._get(req)
        h, w = req.int_arg("h"), req.int_arg("w")
        if not c.state["Running"]:
            raise FailedPrecondition(f"Container {c.id} is not running")
        if c.config.get("Tty"):
            await self.engine.ctd.call("tasks.resize_pty", container_id=c.id, width=w, height=h)
        return Response(200, b"", content_type="text/plain; charset=utf-8")

    async def top(self, req: Request) -> Response:
        c = self._get(req)
        if not c.state["Running"]:
            raise FailedPrecondition(f"Container {c.id} is not running")
        pids = await self.engine.ctd.call("tasks.pids", container_id=c.id)
        pids = [p.get("pid") if isinstance(p, dict) else p for p in pids]
        ps_args = req.arg("ps_args") or "-ef"
        import subprocess
        proc = await asyncio.create_subprocess_exec(
            "ps", *ps_args.split(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise HTTPError(500, f"Error running ps: {err.decode(errors='replace').strip()}")
        lines = out.decode(errors="replace").splitlines()
        titles = lines[0].split()
        try:
            pid_col = titles.index("PID")
        except ValueError:
            raise HTTPError(500, "Couldn't find PID field in ps output") from None
        procs = []
        for line in lines[1:]:
            fields = line.split(None, len(titles) - 1)
            if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in pids:
                procs.append(fields)
        return json_response({"Titles": titles, "Processes": procs})

    async def stats(self, req: Request):
        c = self._get(req)
        stream = req.flag("stream", True)
        one_shot = req.flag("one-shot")
        if one_shot and stream:
            raise InvalidArgument("cannot have stream=true and one-shot=true")
        from busybox_engine.api.stats import docker_stats, empty_stats, system_cpu_ns
        w = await req.stream(200, "application/json")
        engine = self.engine

        async def sample():
            if not c.state["Running"]:
                return None, system_cpu_ns()
            try:
                raw = await engine.ctd.call("tasks.stats", container_id=c.id)
            except RPCError:
                raw = None
            return raw, system_cpu_ns()
        pre = (None, 0)
        if not stream and not one_shot:
            pre = await sample()
            await asyncio.sleep(0.25)   # a second sample, for the CPU percentage
        gone = asyncio.ensure_future(req.disconnected())
        try:
            while True:
                now = await sample()
                doc = docker_stats(c, now, pre) if now[0] is not None else empty_stats(c)
                await w.write(json.dumps(doc).encode() + b"\n")
                if not stream:
                    break
                pre = now
                await asyncio.wait([gone], timeout=1.0)
                if gone.done():
                    return STREAMED
        finally:
            gone.cancel()
        await w.end()
        return STREAMED

    # --- files -----------------------------------------------------------------------

    async def _root(self, c):
        """(the container's root as a path, whether we mounted it)"""
        if c.state["Running"] and c.state["Pid"]:
            return f"/proc/{c.state['Pid']}/root", False
        return await self.engine.ctd.call("containers.mount", id=c.id), True

    async def archive_get(self, req: Request):
        from busybox_engine.api import archive, copy
        c = self._get(req)
        path = req.arg("path") or ""
        if not path:
            raise InvalidArgument("path is required")
        root, mounted = await self._root(c)
        tmp = archive.tmp_path(self.engine.config.data_root, "cp")
        loop = asyncio.get_running_loop()
        try:
            st = copy.path_stat(root, path)
            headers = {"X-Docker-Container-Path-Stat": copy.stat_header(st)}
            if req.method == "HEAD":
                return Response(200, b"", content_type="application/x-tar", headers=headers)
            await loop.run_in_executor(None, copy.make_tar, root, path, tmp)
            await archive.send_file(req, tmp, headers=headers)
            return STREAMED
        finally:
            archive.discard(tmp)
            if mounted:
                await self.engine.ctd.call("containers.unmount", id=c.id)

    async def archive_put(self, req: Request) -> Response:
        from busybox_engine.api import archive, copy
        c = self._get(req)
        path = req.arg("path") or ""
        if not path:
            raise InvalidArgument("path is required")
        if c.host_config.get("ReadonlyRootfs"):
            raise HTTPError(403, "container rootfs is marked read-only")
        tmp = archive.tmp_path(self.engine.config.data_root, "cp")
        try:
            await archive.save_body(req, tmp)
            root, mounted = await self._root(c)
            try:
                await asyncio.get_running_loop().run_in_executor(
                    None, copy.extract_tar, root, path, tmp, req.flag("noOverwriteDirNonDir"))
            finally:
                if mounted:
                    await self.engine.ctd.call("containers.unmount", id=c.id)
        finally:
            archive.discard(tmp)
        return Response(200, b"", content_type="text/plain; charset=utf-8")

    async def export(self, req: Request):
        """docker export: the container's whole filesystem as a tar."""
        from busybox_engine.api import archive
        c = self._get(req)
        # its snapshot (what Docker exports), running or not: never the
        # container's view, with /proc, /sys and volumes mounted in it
        root = await self.engine.ctd.call("containers.mount", id=c.id, live=True)
        tmp = archive.tmp_path(self.engine.config.data_root, "export")
        try:
            def make():
                import tarfile
                with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
                    for name in sorted(os.listdir(root)):
                        tar.add(os.path.join(root, name), arcname=name)
            await asyncio.get_running_loop().run_in_executor(None, make)
            await archive.send_file(req, tmp)
        finally:
            archive.discard(tmp)
            await self.engine.ctd.call("containers.unmount", id=c.id)
        return STREAMED

    # --- streams ---------------------------------------------------------------------

    async def attach(self, req: Request):
        c = self._get(req)
        stream = req.flag("stream")
        want_stdin = req.flag("stdin")
        stdout, stderr = req.flag("stdout"), req.flag("stderr")
        tty = bool(c.config.get("Tty"))
        keys = req.arg("detachKeys")
        try:
            detach = parse_detach_keys(keys) if keys else DEFAULT_DETACH_KEYS
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        logs = req.flag("logs")
        ctype = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
        raw = req.hijack(ctype)
        try:
            if logs:
                for stream_name, data in _read_log(c.log_path, stdout, stderr):
                    raw.write(data if tty else frame(STDOUT if stream_name == "stdout" else STDERR, data))
                await raw.drain()
            if not stream:
                return STREAMED
            stdin = want_stdin and bool(c.config.get("OpenStdin"))
            started = asyncio.get_running_loop().create_future()

            async def open_stream(failed: bool = False):
                if failed:
                    if not started.done():
                        started.set_exception(FailedPrecondition("the container did not start"))
                    return
                try:
                    sock = await self.engine.ctd.open_stream(
                        "tasks.attach", container_id=c.id, stdin=stdin, stdout=stdout, stderr=stderr,
                        close_stdin=bool(c.config.get("StdinOnce")))
                    started.set_result(sock)
                except BaseException as e:  # noqa: BLE001 - told to the waiting attach
                    if not started.done():
                        started.set_exception(e)
            if c.state["Running"]:
                await open_stream()
            else:
                c.attaching.append(open_stream)  # at its start, before it runs
            gone = asyncio.ensure_future(req.disconnected())
            try:
                await asyncio.wait([started, gone], return_when=asyncio.FIRST_COMPLETED)
            finally:
                gone.cancel()
            if not started.done():
                if open_stream in c.attaching:
                    c.attaching.remove(open_stream)
                return STREAMED
            try:
                sock = started.result()
            except RPCError:
                return STREAMED
            await Splice(raw, stdin, detach if stdin else None).run(sock)
        finally:
            raw.close()
        return STREAMED

    async def logs(self, req: Request):
        c = self._get(req)
        stdout, stderr = req.flag("stdout"), req.flag("stderr")
        if not stdout and not stderr:
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        if (c.host_config.get("LogConfig") or {}).get("Type") == "none":
            raise InvalidArgument("configured logging driver does not support reading")
        follow = req.flag("follow")
        timestamps = req.flag("timestamps")
        since = _time_arg(req.arg("since"))
        until = _time_arg(req.arg("until"))
        tail = req.arg("tail") or "all"
        tail_n = -1 if tail == "all" else _int_or(tail, -1)
        tty = bool(c.config.get("Tty"))
        ctype = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
        w = await req.stream(200, ctype)

        def render(stream_name: str, data: bytes, ts: str) -> bytes:
            if timestamps:
                data = ts.encode() + b" " + data
            return data if tty else frame(STDOUT if stream_name == "stdout" else STDERR, data)
        offset = 0
        if since or until:
            entries = _read_log(c.log_path, stdout, stderr, with_time=True)
            entries = [e for e in entries if _in_window(e[2], since, until)]
            if tail_n >= 0:
                entries = entries[-tail_n:] if tail_n else []
            out, size = [], 0
            for stream_name, data, ts in entries:
                chunk = render(stream_name, data, ts)
                out.append(chunk)
                size += len(chunk)
                if size > 1 << 20:
                    await w.write(b"".join(out))
                    out, size = [], 0
            if out:
                await w.write(b"".join(out))
            offset = -1
        else:
            # the common case in C: json-file lines straight to frames
            offset = await _send_log(w, c.log_path, tail_n, stdout, stderr, timestamps, tty)
        if follow and (c.state["Running"] or c.state["Restarting"]) and not until:
            await self._follow(req, c, w, render, stdout, stderr, offset)
        await w.end()
        return STREAMED

    async def _follow(self, req, c, w, render, stdout, stderr, offset: int = -1) -> None:
        """New lines as they are written, from offset of the log file (its
        end for -1), across rotations."""
        try:
            f = open(c.log_path, "rb")
        except FileNotFoundError:
            return
        try:
            f.seek(0, os.SEEK_END) if offset < 0 else f.seek(offset)
            pending = b""
            gone = asyncio.ensure_future(req.disconnected())
            try:
                while not gone.done():
                    data = f.read(1 << 20)
                    if data:
                        pending += data
                        lines = pending.split(b"\n")
                        pending = lines.pop()
                        out = []
                        for line in lines:
                            e = _parse_log_line(line, stdout, stderr)
                            if e is not None:
                                out.append(render(*e))
                        if out:
                            await w.write(b"".join(out))
                        continue
                    if _rotated(f, c.log_path):
                        # what was left in the old file was read above
                        f.close()
                        try:
                            f = open(c.log_path, "rb")
                        except FileNotFoundError:
                            return
                        pending = b""
                        continue
                    if not (c.state["Running"] or c.state["Restarting"]) or \
                            self.engine.containers.by_id.get(c.id) is not c:
                        data = f.read()
                        if not data:
                            return
                        pending += data
                        continue
                    await asyncio.wait([gone], timeout=0.1)
            finally:
                gone.cancel()
        finally:
            f.close()

    # --- exec --------------------------------------------------------------------------

    async def exec_create(self, req: Request) -> Response:
        c = self._get(req)
        body = await req.json()
        if not isinstance(body, dict):
            raise InvalidArgument("exec config must be an object")
        from busybox_engine.api.validate import check_fields
        cfg = check_fields(body, {"AttachStdin": "bool", "AttachStdout": "bool", "AttachStderr": "bool",
                                  "Tty": "bool", "Env": "strlist", "Cmd": "strlist", "User": "string",
                                  "WorkingDir": "string", "Privileged": "bool", "DetachKeys": "string"},
                           "ExecConfig")
        if not cfg.get("Cmd"):
            raise InvalidArgument("No exec command specified")
        if not c.state["Running"]:
            raise FailedPrecondition(f"Container {c.id} is not running")
        if c.state["Paused"]:
            raise FailedPrecondition(f"Container {c.id} is paused, unpause the container before exec")
        eid = secrets.token_hex(32)
        self.engine.execs[eid] = {
            "ID": eid, "ContainerID": c.id, "Running": False, "ExitCode": None, "Pid": 0,
            "OpenStdin": bool(cfg.get("AttachStdin")), "OpenStdout": bool(cfg.get("AttachStdout")),
            "OpenStderr": bool(cfg.get("AttachStderr")), "CanRemove": False,
            "DetachKeys": cfg.get("DetachKeys") or "",
            "ProcessConfig": {"tty": bool(cfg.get("Tty")), "entrypoint": cfg["Cmd"][0],
                              "arguments": cfg["Cmd"][1:], "privileged": bool(cfg.get("Privileged")),
                              "user": cfg.get("User") or ""},
            "_cfg": cfg, "_done": asyncio.get_running_loop().create_future()}
        self.engine.container_event(c, f"exec_create: {' '.join(cfg['Cmd'])}", execID=eid)
        return json_response({"Id": eid}, 201)

    def _exec(self, req: Request) -> dict:
        e = self.engine.execs.get(req.params["id"])
        if e is None:
            raise NotFound(f"No such exec instance: {req.params['id']}")
        return e

    async def exec_inspect(self, req: Request) -> Response:
        e = self._exec(req)
        return json_response({k: v for k, v in e.items() if not k.startswith("_")})

    async def exec_resize(self, req: Request) -> Response:
        e = self._exec(req)
        if e["Running"] and e["ProcessConfig"]["tty"]:
            await self.engine.ctd.call("tasks.resize_pty", container_id=e["ContainerID"],
                                       exec_id=e["ID"], width=req.int_arg("w"), height=req.int_arg("h"))
        return Response(200, b"", content_type="text/plain; charset=utf-8")

    async def exec_start(self, req: Request):
        e = self._exec(req)
        body = await req.json({}) or {}
        if not isinstance(body, dict):
            raise InvalidArgument("exec start config must be an object")
        detach = bool(body.get("Detach"))
        tty = bool(body.get("Tty", e["ProcessConfig"]["tty"]))
        if e["Running"] or e["ExitCode"] is not None or e.get("_started"):
            raise FailedPrecondition(f"Error: Exec command {e['ID']} has already run")
        c = self.engine.containers.get(e["ContainerID"])
        if not c.state["Running"]:
            raise FailedPrecondition(f"Container {c.id} is not running")
        e["_started"] = True
        process = self._exec_process(c, e, tty)
        stdin = e["OpenStdin"] and not detach
        await self.engine.ctd.call("tasks.exec", container_id=c.id, exec_id=e["ID"], process=process,
                                   stdin=stdin, terminal=tty)
        if detach:
            await self._exec_run(c, e)
            return Response(200, b"", content_type="application/json")
        ctype = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
        raw = req.hijack(ctype)
        try:
            sock = await self.engine.ctd.open_stream(
                "tasks.attach", container_id=c.id, exec_id=e["ID"], stdin=stdin,
                stdout=e["OpenStdout"], stderr=e["OpenStderr"], close_stdin=True)
            splice = Splice(raw, stdin, parse_detach_keys(e["DetachKeys"]) if e["DetachKeys"] else None)
            running = asyncio.ensure_future(splice.run(sock))
            try:
                await self._exec_run(c, e)
            except RPCError as err:
                running.cancel()
                msg = f"OCI runtime exec failed: {err.message}: unknown\r\n"
                raw.write(msg.encode() if tty else frame(STDOUT, msg.encode()))
                await raw.drain()
                return STREAMED
            await running
            # the exit code is known before the stream ends, as Docker's
            # client asks for it as soon as it has read the output
            try:
                await asyncio.wait_for(asyncio.shield(e["_done"]), 10)
            except asyncio.TimeoutError:
                pass
        finally:
            raw.close()
        return STREAMED

    def _exec_process(self, c, e: dict, tty: bool) -> dict:
        cfg = e["_cfg"]
        from busybox_engine.api import spec as specs
        base = self.engine.process_spec(c)
        base["args"] = list(cfg["Cmd"])
        base["terminal"] = tty
        base["env"] = specs.merge_env(base["env"], cfg.get("Env") or [])
        if cfg.get("WorkingDir"):
            base["cwd"] = cfg["WorkingDir"]
        user = cfg.get("User") or ""
        if user:
            uid, _, gid = user.partition(":")
            if not uid.isdigit() or (gid and not gid.isdigit()):
                raise InvalidArgument("exec --user: only numeric uid[:gid] for now")
            base["user"] = {"uid": int(uid), "gid": int(gid or 0)}
        if cfg.get("Privileged"):
            caps = specs.kernel_caps()
            base["capabilities"] = {k: list(caps) for k in ("bounding", "effective", "permitted")}
        return base

    async def _exec_run(self, c, e: dict) -> None:
        r = await self.engine.ctd.call("tasks.start", container_id=c.id, exec_id=e["ID"])
        e["Running"] = True
        e["Pid"] = r.get("pid", 0)
        self.engine.container_event(c, "exec_start: " + " ".join(e["_cfg"]["Cmd"]), execID=e["ID"])


def _int_or(text, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _time_arg(text) -> float:
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        t = parse_rfc3339(text)
        if not t:
            raise InvalidArgument(f"invalid time value: {text!r}") from None
        return t


def _in_window(ts: str, since: float, until: float) -> bool:
    if not since and not until:
        return True
    t = parse_rfc3339(ts)
    return (not since or t >= since) and (not until or t <= until)


def _parse_log_line(line: bytes, stdout: bool, stderr: bool):
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    stream = rec.get("stream")
    if (stream == "stdout" and not stdout) or (stream == "stderr" and not stderr):
        return None
    return stream, rec.get("log", "").encode("utf-8", "surrogateescape"), rec.get("time", "")


def _rotated(f, path: str) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return False   # between the rename and the new file


def _log_files(path: str) -> list:
    """A json-file log's files, oldest first: rotated ones (path.N ... path.1), then path."""
    return [p for p in (f"{path}.{i}" for i in range(20, 0, -1)) if os.path.exists(p)] + [path]


def _tail_starts(blobs: list, n: int) -> list:
    """Where to start reading each blob for its last n complete lines in
    all (n < 0: all of them)."""
    if n < 0:
        return [0] * len(blobs)
    starts = [len(b) for b in blobs]
    for k in range(len(blobs) - 1, -1, -1):
        if n <= 0:
            break
        b = blobs[k]
        pos = b.rfind(b"\n") + 1     # a partial last line is not a line yet
        count = b.count(b"\n", 0, pos)
        if count <= n:
            starts[k] = 0
            n -= count
            continue
        for _ in range(n):
            pos = b.rfind(b"\n", 0, pos - 1) + 1
        starts[k] = pos
        n = 0
    return starts


async def _send_log(w, path: str, tail_n: int, stdout: bool, stderr: bool, timestamps: bool,
                    tty: bool) -> int:
    """The log's lines (its last tail_n; all for -1) as `docker logs` sends
    them; the offset in the current file where reading stopped."""
    from busybox_engine.core_pyx.jsonlog import decode
    blobs = []
    for p in _log_files(path):
        try:
            with open(p, "rb") as f:
                blobs.append(f.read())
        except FileNotFoundError:
            blobs.append(b"")
    i = 0
    for blob, i in zip(blobs, _tail_starts(blobs, tail_n)):
        while i < len(blob):
            end = min(len(blob), i + (1 << 20))
            out, nxt = decode(blob, i, end, stdout, stderr, timestamps, tty)
            if nxt == i:
                # a line longer than the piece, or a partial last line
                nl = blob.find(b"\n", end)
                if nl < 0:
                    break
                out, nxt = decode(blob, i, nl + 1, stdout, stderr, timestamps, tty)
            i = nxt
            if out:
                await w.write(out)
    return i


def _read_log(path: str, stdout: bool, stderr: bool, with_time: bool = False) -> list:
    """Entries of a json-file log (and its rotated files, oldest first)."""
    paths = _log_files(path)
    out = []
    for p in paths:
        try:
            with open(p, "rb") as f:
                for line in f:
                    e = _parse_log_line(line, stdout, stderr)
                    if e is not None:
                        out.append(e if with_time else e[:2])
        except FileNotFoundError:
            continue
    return out


def _matches(c, filters: dict) -> bool:
    """Docker's container filters (the ones without networks and volumes)."""
    for key, values in filters.items():
        if not values:
            continue
        if key == "status" and c.state["Status"] not in values:
            return False
        if key == "id" and not any(c.id.startswith(v) for v in values):
            return False
        if key == "name" and not any(v.lstrip("/") in c.name.lstrip("/") for v in values):
            return False
        if key == "exited" and (c.state["Running"] or c.state["FinishedAt"] == ZERO_TIME
                                or str(c.state["ExitCode"]) not in values):
            return False
        if key == "label":
            labels = c.config.get("Labels") or {}
            for v in values:
                k, eq, val = v.partition("=")
                if k not in labels or (eq and labels[k] != val):
                    return False
        if key == "ancestor" and not any(
                v in (c.config.get("Image"), c.data.get("ImageName"), c.data.get("Image"))
                or c.data.get("Image", "").startswith("sha256:" + v) for v in values):
            return False
    return True


def _port_list(c) -> list:
    """/containers/json's Ports: each published binding, and each exposed
    port with none, as Docker lists them."""
    out = []
    for key, binds in (c.data.get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        if not binds:
            out.append({"PrivatePort": int(port), "Type": proto})
        for b in binds or []:
            out.append({"IP": b["HostIp"], "PrivatePort": int(port), "PublicPort": int(b["HostPort"]),
                        "Type": proto})
    return out
