"""POST /build: Docker's classic builder. The context (a tar) is unpacked
into a scratch directory; each Dockerfile step makes an image whose parent
is the last: RUN in a container of ours (its output streamed as it
comes), COPY/ADD into a created container's root, metadata steps as a new
config over the same layers. A step whose parent and config match an
earlier build's is taken from the cache, as Docker does."""
import asyncio
import copy as _copy
import json
import os
import shutil
import struct

from busybox_engine.build import context as bctx
from busybox_engine.build import instructions as I
from busybox_engine.build.dockerfile import ParseError, parse, stages
from busybox_engine.rpc.errors import InvalidArgument, NotFound, RPCError

# the config keys that tell one step's result from another's (Docker's cache compares these)
CACHE_KEYS = ("Cmd", "Entrypoint", "Env", "Labels", "ExposedPorts", "Volumes", "WorkingDir", "User",
              "StopSignal", "Healthcheck", "Shell", "OnBuild")


def _line(message: dict) -> bytes:
    """One JSON message of the build's stream."""
    return json.dumps(message).encode() + b"\r\n"


def _short(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def _cache_key(parent: str, container_config: dict) -> str:
    return json.dumps([parent, {k: container_config.get(k) or None for k in CACHE_KEYS}], sort_keys=True)


def _auth_for(auths: dict, domain: str) -> tuple:
    """(user, password) for a registry domain among the client's credentials."""
    for server, creds in auths.items():
        host = server.split("://", 1)[-1].split("/", 1)[0]
        if host == domain or (domain == "docker.io" and host in ("index.docker.io", "registry-1.docker.io")):
            if isinstance(creds, dict):
                return str(creds.get("username") or ""), str(creds.get("password") or "")
    return "", ""


class Options:
    """The query of POST /build, checked before any output."""

    def __init__(self, req):
        self.dockerfile = req.arg("dockerfile") or "Dockerfile"
        self.tags = []
        from busybox_engine.image.reference import parse as parse_ref
        for t in req.query.get("t") or []:
            try:
                ref = parse_ref(t)
            except (ValueError, InvalidArgument) as e:
                raise InvalidArgument(f"invalid reference format: {e}" if "lowercase" in str(e)
                                      else f"invalid reference format") from None
            if "@" in t:
                raise InvalidArgument(f"invalid reference format: {t}")
            self.tags.append(str(ref))
        self.build_args = req.json_arg("buildargs", {}) or {}
        self.labels = req.json_arg("labels", {}) or {}
        if not isinstance(self.build_args, dict) or not isinstance(self.labels, dict):
            raise InvalidArgument("buildargs and labels must be JSON objects")
        self.quiet = req.flag("q")
        self.no_cache = req.flag("nocache")
        self.rm = req.flag("rm", True)
        self.force_rm = req.flag("forcerm")
        self.pull = req.flag("pull")
        self.target = req.arg("target") or ""
        self.network = req.arg("networkmode") or "default"
        self.extra_hosts = [h for h in (req.query.get("extrahosts") or []) if h]
        self.host_config = {"Memory": req.int_arg("memory"), "MemorySwap": req.int_arg("memswap"),
                            "CpuShares": req.int_arg("cpushares"), "CpusetCpus": req.arg("cpusetcpus") or "",
                            "CpuPeriod": req.int_arg("cpuperiod"), "CpuQuota": req.int_arg("cpuquota"),
                            "ShmSize": req.int_arg("shmsize")}
        from busybox_engine.api.archive import header_json
        # X-Registry-Config: {registry: {username, password, ...}}
        self.auths = header_json(req.headers.get("x-registry-config"))
        if (req.arg("version") or "1") == "2":
            raise InvalidArgument("BuildKit is not supported by this daemon: build with DOCKER_BUILDKIT=0 "
                                  "(the classic builder)")
        if req.arg("remote"):
            raise InvalidArgument("a remote build context (git or URL) is not supported: send the context "
                                  "as the request body")


class Builder:
    def __init__(self, engine, opts: Options, ctx: str, scratch: str, writer):
        self.engine = engine
        self.ctd = engine.ctd
        self.opts = opts
        self.ctx = ctx
        self.scratch = scratch
        self.w = writer
        self.held = []          # quiet: the output kept for an error
        self.stage_images = {}  # stage name (lower) or index -> image id
        self.made = []          # containers made, removed at the end
        self.cache = None

    # --- output ------------------------------------------------------------------------

    async def say(self, text: str) -> None:
        line = _line({"stream": text})
        if self.opts.quiet:
            self.held.append(line)
        else:
            await self.w.write(line)

    # --- images ------------------------------------------------------------------------

    @staticmethod
    def _image_config(st: I.Stage, parent: str, container_config: dict, cid: str = "") -> dict:
        from busybox_engine.api.commit import _version
        from busybox_engine.util.timefmt import rfc3339nano
        return {"architecture": "amd64", "os": "linux", "created": rfc3339nano(), "author": st.author,
                "config": _copy.deepcopy(st.config), "container": cid,
                "container_config": container_config, "docker_version": _version(), "parent": parent}

    async def _cached(self, parent: str, container_config: dict) -> str | None:
        """An earlier build's image for this step (said so), or None."""
        if self.opts.no_cache:
            return None
        if self.cache is None:
            self.cache = {}
            for i in await self.ctd.call("images.describe_all"):
                cfg = i.get("config") or {}
                if cfg.get("parent") and cfg.get("container_config"):
                    self.cache.setdefault(_cache_key(cfg["parent"], cfg["container_config"]), i["id"])
        hit = self.cache.get(_cache_key(parent, container_config))
        if hit:
            await self.say(" ---> Using cache\n")
        return hit

    def _remember(self, parent: str, container_config: dict, image_id: str) -> None:
        if self.cache is not None:
            self.cache[_cache_key(parent, container_config)] = image_id

    async def base_image(self, ref: str) -> dict | None:
        """FROM's image: an earlier stage's, ours, or pulled (None for scratch)."""
        if ref.lower() == "scratch":
            return None
        if ref.lower() in self.stage_images:
            return await self.engine.image(self.stage_images[ref.lower()])
        if not self.opts.pull:
            try:
                return await self.engine.image(ref)
            except NotFound:
                pass
        from busybox_engine.image.reference import familiar, parse as parse_ref
        try:
            r = parse_ref(ref)
        except (ValueError, InvalidArgument) as e:
            raise I.BuildError(f"invalid reference format: {e}") from None
        await self.say(f"{familiar(str(r))}: Pulling from {familiar(str(r)).rsplit(':', 1)[0]}\n")
        try:
            user, password = _auth_for(self.opts.auths, r.domain)
            await self.ctd.call("images.pull", name=str(r), plain_http=r.domain.startswith(("127.", "localhost")),
                                user=user, password=password)
        except RPCError as e:
            raise I.BuildError(f"pull access denied for {familiar(str(r)).rsplit(':', 1)[0]}, repository does "
                               f"not exist or may require 'docker login': {e.message}") from None
        return await self.engine.image(str(r))

    # --- containers ---------------------------------------------------------------------

    async def _container(self, image: str, st: I.Stage, cmd: list, env: list | None = None):
        body = {"Image": image, "Cmd": cmd, "Entrypoint": [], "Env": env if env is not None else st.config["Env"],
                "User": st.config.get("User") or "", "WorkingDir": st.config.get("WorkingDir") or "",
                "Healthcheck": {"Test": ["NONE"]}, "AttachStdout": True, "AttachStderr": True,
                "HostConfig": dict(self.opts.host_config, NetworkMode=self.opts.network,
                                   ExtraHosts=self.opts.extra_hosts)}
        c, _ = await self.engine.create(None, body)
        self.made.append(c)
        return c

    async def _drop(self, c) -> None:
        if c in self.made:
            self.made.remove(c)
        try:
            await self.engine.remove(c, force=True, volumes=True)
        except RPCError:
            pass

    async def _run(self, c) -> int:
        """Start c with its output streamed to the client; its exit code."""
        loop = asyncio.get_running_loop()
        got = loop.create_future()

        async def open_stream(failed: bool = False):
            if failed:
                return
            try:
                got.set_result(await self.ctd.open_stream("tasks.attach", container_id=c.id, stdin=False,
                                                          stdout=True, stderr=True))
            except BaseException as e:  # noqa: BLE001 - told to the waiting step
                if not got.done():
                    got.set_exception(e)
        waiter = loop.create_future()
        c.waiters.append(waiter)
        c.attaching.append(open_stream)
        try:
            await self.engine.start(c)
        except RPCError as e:
            raise I.BuildError(e.message) from None
        finally:
            if open_stream in c.attaching:
                c.attaching.remove(open_stream)
        if got.done() and got.exception() is None:
            await self._pump(got.result())
        return await waiter

    async def _pump(self, sock) -> None:
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        try:
            while True:
                try:
                    head = await reader.readexactly(8)
                except asyncio.IncompleteReadError:
                    return
                _stream, size = struct.unpack(">BxxxL", head)
                data = await reader.readexactly(size)
                await self.say(data.decode("utf-8", "replace"))
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    # --- steps ---------------------------------------------------------------------------

    async def commit_step(self, st: I.Stage, parent: str, cc: dict, created_by: str, c=None) -> str:
        """The step's image: c's changes as a layer over parent, or (no c)
        parent's layers with the stage's config."""
        cfg = self._image_config(st, parent, cc, c.id if c is not None else "")
        history = {"created": cfg["created"], "created_by": created_by}
        if c is not None:
            out = await self.ctd.call("containers.commit", id=c.id, name="", config=cfg, history=history)
        else:
            base = ""
            if parent:
                base = (await self.engine.image(parent))["name"]
            out = await self.ctd.call("images.configure", image=base, name="", config=cfg, history=history)
        self._remember(parent, cc, out["id"])
        return out["id"]

    def _nop(self, st: I.Stage, comment: str, split: bool = True) -> dict:
        cc = _copy.deepcopy(st.config)
        cc["Cmd"] = st.shell() + (["#(nop) ", comment] if split else ["#(nop) " + comment])
        return cc

    async def step(self, st: I.Stage, image: str, ins) -> str:
        """One instruction over image; the resulting image's id."""
        if not image and ins.cmd in ("run", "copy", "add"):
            # FROM scratch: an image without layers to start the container from
            image = (await self.ctd.call("images.configure", image="", name="",
                                         config={"architecture": "amd64", "os": "linux",
                                                 "config": _copy.deepcopy(st.config)}, history={}))["id"]
        if ins.cmd == "run":
            return await self.run_step(st, image, ins)
        if ins.cmd in ("copy", "add"):
            return await self.copy_step(st, image, ins)
        comment = I.apply(st, ins)
        split = ins.cmd != "workdir"
        cc = self._nop(st, comment, split)
        created_by = " ".join(cc["Cmd"])
        hit = await self._cached(image, cc)
        if hit:
            return hit
        if not image:
            return await self.commit_step(st, image, cc, created_by)
        # a container for the step, as Docker makes one (never started)
        c = await self._container(image, st, cc["Cmd"])
        await self.say(f" ---> Running in {c.id[:12]}\n")
        try:
            changed = False
            if ins.cmd == "workdir" and await self._has_layers(image):
                root = await self.ctd.call("containers.mount", id=c.id)
                try:
                    await asyncio.get_running_loop().run_in_executor(None, _mkdir_workdir, root,
                                                                     st.config["WorkingDir"])
                finally:
                    await self.ctd.call("containers.unmount", id=c.id)
                changed = bool(await self.ctd.call("containers.changes", id=c.id))
            out = await self.commit_step(st, image, cc, created_by, c if changed else None)
        except BaseException:
            await self._drop(c)
            raise
        await self.say(f"Removing intermediate container {c.id[:12]}\n")
        await self._drop(c)
        return out

    async def _has_layers(self, image: str) -> bool:
        i = await self.engine.image(image)
        return bool(((i.get("config") or {}).get("rootfs") or {}).get("diff_ids"))

    async def run_step(self, st: I.Stage, image: str, ins) -> str:
        cmd, saved = I.run_command(st, ins)
        cc = _copy.deepcopy(st.config)
        cc["Cmd"] = saved
        hit = await self._cached(image, cc)
        if hit:
            return hit
        env = list(st.config["Env"]) + [f"{k}={v}" for k, v in sorted(st.run_args().items())]
        c = await self._container(image, st, cmd, env)
        await self.say(f" ---> Running in {c.id[:12]}\n")
        code = await self._run(c)
        if code != 0:
            if self.opts.force_rm:
                await self._drop(c)
            else:
                self.made.remove(c)   # a failed step's container stays, as Docker leaves it
            raise I.BuildError(f"The command '{' '.join(cmd)}' returned a non-zero code: {code}", code)
        out = await self.commit_step(st, image, cc, " ".join(saved), c)
        if self.opts.rm:
            await self.say(f"Removing intermediate container {c.id[:12]}\n")
            await self._drop(c)
        else:
            self.made.remove(c)
        return out

    async def copy_step(self, st: I.Stage, image: str, ins) -> str:
        what = ins.cmd.upper()
        srcs, dest, chown, source = I.copy_args(st, ins)
        loop = asyncio.get_running_loop()
        src_c = None
        root = self.ctx
        try:
            if source:
                key = source.lower()
                if key.isdigit() and int(key) in self.stage_images:
                    src_image = self.stage_images[int(key)]
                elif key in self.stage_images:
                    src_image = self.stage_images[key]
                else:
                    src_image = (await self.base_image(source) or {}).get("id")
                    if not src_image:
                        raise I.BuildError(f"{what} --from=scratch: nothing to copy from")
                src_c = await self._container(src_image, st, ["#(nop) copy source"])
                root = await self.ctd.call("containers.mount", id=src_c.id)
            urls = [s for s in srcs if what == "ADD" and s.startswith(("http://", "https://"))]
            items = []
            for u in urls:
                path, name = await loop.run_in_executor(None, bctx.fetch_url, u, self.scratch)
                items.append((name, path))
            locals_ = [s for s in srcs if s not in urls]
            if locals_:
                items += await loop.run_in_executor(None, bctx.sources, root, locals_, what)
            digest = await loop.run_in_executor(None, bctx.source_hash, items)
            comment = f"{what} {digest} in {dest} "
            cc = self._nop(st, comment, split=False)
            hit = await self._cached(image, cc)
            if hit:
                return hit
            c = await self._container(image, st, cc["Cmd"])
            try:
                target = await self.ctd.call("containers.mount", id=c.id)
                try:
                    await loop.run_in_executor(None, bctx.copy_into, target, items, dest,
                                               st.config.get("WorkingDir") or "/", chown, what, what == "ADD")
                except OSError as e:
                    raise I.BuildError(f"{what} failed: {e}") from None
                finally:
                    await self.ctd.call("containers.unmount", id=c.id)
                return await self.commit_step(st, image, cc, " ".join(cc["Cmd"]), c)
            finally:
                await self._drop(c)
        finally:
            if src_c is not None:
                await self.ctd.call("containers.unmount", id=src_c.id)
                await self._drop(src_c)

    # --- the whole build -------------------------------------------------------------------

    async def run(self, df) -> str:
        opts = self.opts
        meta_ins, all_stages = stages(df)
        chosen = all_stages
        if opts.target:
            idx = None
            for n, s in enumerate(all_stages):
                w = s[0].rest.split()
                if len(w) == 3 and w[1].lower() == "as" and w[2].lower() == opts.target.lower():
                    idx = n
            if idx is None:
                raise I.BuildError(f"failed to reach build target {opts.target} in Dockerfile")
            chosen = all_stages[:idx + 1]
        total = len(meta_ins) + sum(len(s) for s in chosen) + (1 if opts.labels else 0)
        n = 0
        build_args = {k: (None if v is None else str(v)) for k, v in opts.build_args.items()}
        meta = I.meta_args(meta_ins, build_args, df.escape)
        for ins in meta_ins:
            n += 1
            await self.say(f"Step {n}/{total} : {ins.original}\n")
        used = set(meta)
        image = ""
        for index, stage in enumerate(chosen):
            frm = stage[0]
            n += 1
            await self.say(f"Step {n}/{total} : {frm.original}\n")
            I.check_flags(frm, ("platform",))
            from busybox_engine.build import words as W
            try:
                fw = W.words(frm.rest, {k: v for k, v in meta.items() if v is not None}, df.escape)
            except W.WordError as e:
                raise I.BuildError(str(e)) from None
            if len(fw) not in (1, 3) or (len(fw) == 3 and fw[1].lower() != "as"):
                raise I.BuildError("FROM requires either one or three arguments")
            base = await self.base_image(fw[0])
            image = base["id"] if base else ""
            cfg = _copy.deepcopy((base.get("config") or {}).get("config") or {}) if base else {}
            if not cfg.get("Env"):
                cfg["Env"] = [I.PATH_ENV]
            st = I.Stage(cfg, df.escape, build_args, meta)
            if base:
                await self.say(f" ---> {_short(image)}\n")
            triggers = cfg.pop("OnBuild", None) or []
            if triggers:
                await self.say(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
                for ins in I.onbuild_instructions(triggers, df.escape):
                    image = await self.step(st, image, ins)
            for ins in stage[1:]:
                n += 1
                await self.say(f"Step {n}/{total} : {ins.original}\n")
                image = await self.step(st, image, ins)
                await self.say(f" ---> {_short(image)}\n")
            if index == len(chosen) - 1 and opts.labels:
                n += 1
                text = "LABEL " + " ".join(f'"{k}"="{v}"' for k, v in opts.labels.items())
                await self.say(f"Step {n}/{total} : {text}\n")
                image = await self.step(st, image, parse(text).instructions[0])
                await self.say(f" ---> {_short(image)}\n")
            if not image:
                raise I.BuildError("No image was generated. Is your Dockerfile empty?")
            self.stage_images[index] = image
            if len(fw) == 3:
                self.stage_images[fw[2].lower()] = image
            used |= st.used_args
        unused = sorted(k for k in build_args if k not in used and k not in I.BUILTIN_ARGS)
        if unused:
            await self.say(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")
        return image

    async def cleanup(self) -> None:
        for c in list(self.made):
            await self._drop(c)


def _mkdir_workdir(root: str, path: str) -> None:
    from busybox_engine.api.copy import resolve
    real = resolve(root, path)
    if not os.path.isdir(real):
        os.makedirs(real, 0o755, exist_ok=True)


async def handle(engine, req):
    """POST /build."""
    from busybox_engine.api import archive
    from busybox_engine.api.copy import extract_tar
    from busybox_engine.api.http import STREAMED
    opts = Options(req)
    tmp = archive.tmp_path(engine.config.data_root, "build")
    os.makedirs(tmp, 0o700)
    ctx = os.path.join(tmp, "context")
    os.mkdir(ctx, 0o755)
    body = os.path.join(tmp, "context.tar")
    loop = asyncio.get_running_loop()
    try:
        size = await archive.save_body(req, body)
        try:
            if size:
                try:
                    await loop.run_in_executor(None, bctx.check_tar, body)
                except I.BuildError as e:
                    raise InvalidArgument(str(e)) from None
                await loop.run_in_executor(None, extract_tar, ctx, "/", body)
            os.unlink(body)
            path = bctx.dockerfile_path(ctx, opts.dockerfile)
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except I.BuildError as e:
            raise RPCError(str(e)) from None
        try:
            df = parse(text)
        except ParseError as e:
            raise InvalidArgument(str(e)) from None
        if not df.instructions:
            raise InvalidArgument(f"the Dockerfile ({opts.dockerfile}) cannot be empty")
        w = await req.stream(200, "application/json")
        b = Builder(engine, opts, ctx, tmp, w)
        try:
            image = await b.run(df)
            if opts.tags:
                name = (await engine.image(image))["name"]
                for tag in opts.tags:
                    await engine.ctd.call("images.tag", source=name, target=tag)
                if name == image:   # tagged now: its untagged name goes, as in Docker
                    await engine.ctd.call("images.delete", name=name)
        except (I.BuildError, ParseError, RPCError) as e:
            msg = e.message if isinstance(e, RPCError) else str(e.args[0]) if e.args else str(e)
            code = e.args[1] if isinstance(e, I.BuildError) and len(e.args) > 1 else None
            for line in b.held:
                await w.write(line)
            detail = {"message": msg}
            if code is not None:
                detail["code"] = code
            await w.write(_line({"errorDetail": detail, "error": msg}))
            await w.end()
            return STREAMED
        finally:
            await b.cleanup()
        from busybox_engine.image.reference import familiar
        await w.write(_line({"aux": {"ID": image}}))
        if opts.quiet:
            await w.write(_line({"stream": image + "\n"}))
        else:
            await w.write(_line({"stream": f"Successfully built {_short(image)}\n"}))
            for tag in opts.tags:
                await w.write(_line({"stream": f"Successfully tagged {familiar(tag)}\n"}))
        for tag in opts.tags:
            engine.emit("image", "tag", image, {"name": familiar(tag)})
        await w.end()
        return STREAMED
    finally:
        await loop.run_in_executor(None, shutil.rmtree, tmp, True)
