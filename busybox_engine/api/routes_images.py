"""/images/...: list, inspect, pull, tag, delete."""
import json

from busybox_engine.api.http import STREAMED, Request, Response, json_response
from busybox_engine.rpc.errors import AlreadyExists, InvalidArgument, NotFound, RPCError, Unavailable


def register(r, engine) -> None:
    h = ImageRoutes(engine)
    r.add("GET", "/images/json", h.list)
    r.add("GET", "/images/search", h.search)
    r.add("POST", "/build", h.build)
    r.add("POST", "/build/prune", h.build_prune)
    r.add("POST", "/images/create", h.create)
    r.add("GET", "/images/get", h.get)
    r.add("POST", "/images/load", h.load)
    r.add("GET", "/images/{name:.*}/get", h.get)
    r.add("POST", "/images/{name:.*}/push", h.push)
    r.add("POST", "/images/prune", h.prune)
    r.add("GET", "/images/{name:.*}/json", h.inspect)
    r.add("GET", "/images/{name:.*}/history", h.history)
    r.add("POST", "/images/{name:.*}/tag", h.tag)
    r.add("DELETE", "/images/{name:.*}", h.delete)


def _repo_tags(images: list, image_id: str) -> list:
    from busybox_engine.image.reference import familiar
    return sorted(familiar(i["name"]) for i in images if i["id"] == image_id
                  and not i["name"].startswith("sha256:") and "@" not in i["name"])


# container.Config's fields Docker always shows (the rest are omitempty)
_CONFIG_FIELDS = (("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False),
                  ("AttachStdout", False), ("AttachStderr", False), ("Tty", False), ("OpenStdin", False),
                  ("StdinOnce", False), ("Env", None), ("Cmd", None), ("Image", ""), ("Volumes", None),
                  ("WorkingDir", ""), ("Entrypoint", None), ("OnBuild", None), ("Labels", None))


def docker_config(c: dict) -> dict:
    """An image's config as Docker's inspect shows it: every field there."""
    out = {k: c.get(k, default) for k, default in _CONFIG_FIELDS}
    out.update({k: v for k, v in c.items() if k not in out})
    return out


def _created(cfg: dict) -> str:
    return cfg.get("created") or "0001-01-01T00:00:00Z"


def _created_unix(cfg: dict) -> int:
    from busybox_engine.util.timefmt import GO_ZERO_UNIX, parse_rfc3339
    return int(parse_rfc3339(cfg["created"])) if cfg.get("created") else GO_ZERO_UNIX


class ImageRoutes:
    def __init__(self, engine):
        self.engine = engine

    async def list(self, req: Request) -> Response:
        filters = req.json_arg("filters", {}) or {}
        if not isinstance(filters, dict):
            raise InvalidArgument("invalid filters: not a map")
        for key in filters:
            if key not in ("dangling", "label", "before", "since", "reference"):
                raise InvalidArgument(f"invalid filter '{key}'")
        filters = {k: ([x for x, on in v.items() if on] if isinstance(v, dict) else list(v) if isinstance(v, list) else [v])
                   for k, v in filters.items()}
        for v in filters.get("dangling", []):
            if str(v).lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid filter 'dangling={v}'")
        images = await self.engine.ctd.call("images.describe_all")
        show_all = req.flag("all")
        parents = _parents(images)
        seen, out = set(), []
        counts = {}
        for c in self.engine.containers.all():
            counts[c.data.get("Image")] = counts.get(c.data.get("Image"), 0) + 1
        for i in images:
            if i["id"] in seen:
                continue
            seen.add(i["id"])
            cfg = i.get("config") or {}
            tags = _repo_tags(images, i["id"])
            if not tags and not show_all and i["id"] in parents:
                continue   # an intermediate image of a build: `images -a` shows it
            out.append({"Id": i["id"], "ParentId": cfg.get("parent", ""), "RepoTags": tags or ["<none>:<none>"],
                        # what Docker 20.10 gives an untagged image; its CLI shows it so
                        "RepoDigests": [] if tags else ["<none>@<none>"], "Created": _created_unix(cfg),
                        "Size": i["size"], "SharedSize": -1, "VirtualSize": i["size"],
                        "Labels": (cfg.get("config") or {}).get("Labels"),
                        "Containers": counts.get(i["id"], 0) if req.flag("shared-size") else -1})
        out = [x for x in out if _image_matches(x, filters)]
        if filters.get("before") or filters.get("since"):
            for key in ("before", "since"):
                for ref in filters.get(key, []):
                    pivot = await self.engine.image(ref)
                    created = next((x["Created"] for x in out if x["Id"] == pivot["id"]), None)
                    if created is None:
                        created = _created_unix(pivot.get("config") or {})
                    out = [x for x in out if (x["Created"] < created if key == "before" else x["Created"] > created)]
        out.sort(key=lambda x: x["Created"], reverse=True)
        return json_response(out)

    async def inspect(self, req: Request) -> Response:
        i = await self.engine.image(req.params["name"])
        images = await self.engine.ctd.call("images.describe_all")
        cfg = i.get("config") or {}
        c = cfg.get("config") or {}
        return json_response({
            "Id": i["id"], "RepoTags": _repo_tags(images, i["id"]), "RepoDigests": [],
            "Parent": cfg.get("parent", ""), "Comment": cfg.get("comment", ""), "Created": _created(cfg),
            "Container": cfg.get("container", ""),
            "ContainerConfig": docker_config(cfg.get("container_config") or {}),
            "DockerVersion": cfg.get("docker_version", ""),
            "Author": cfg.get("author", ""), "Config": docker_config(c), "Architecture": cfg.get("architecture", "amd64"),
            "Os": cfg.get("os", "linux"), "Size": i["size"], "VirtualSize": i["size"],
            "GraphDriver": {"Data": None, "Name": "overlay2"},
            "RootFS": {"Type": "layers", "Layers": (cfg.get("rootfs") or {}).get("diff_ids") or []},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"}})

    async def create(self, req: Request):
        if req.arg("fromSrc"):
            return await self.import_(req)
        image = req.arg("fromImage")
        if not image:
            raise InvalidArgument("fromImage or fromSrc is required")
        tag = req.arg("tag") or ""
        if tag:
            image = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"
        from busybox_engine.image.reference import familiar, parse
        try:
            ref = parse(image)
        except (ValueError, InvalidArgument) as e:
            raise InvalidArgument(f"invalid reference format: {e}") from None
        from busybox_engine.api.archive import registry_auth
        user, password = registry_auth(req)
        w = await req.stream(200, "application/json")
        name = familiar(str(ref))
        await w.write(json.dumps({"status": f"Pulling from {familiar(str(ref)).rsplit(':', 1)[0]}",
                                  "id": str(ref).rsplit(":", 1)[-1]}).encode() + b"\r\n")
        try:
            before = (await self.engine.ctd.call("images.get", name=str(ref)))["target"]["digest"]
        except RPCError:
            before = None
        try:
            r, tr = await self._with_progress(w, "pull", str(ref), name=str(ref), user=user,
                                              password=password,
                                              plain_http=ref.domain.startswith(("127.", "localhost")))
            layers = (await self.engine.ctd.call("images.describe", name=str(ref))).get("layers") or []
        except RPCError as e:
            await w.write(json.dumps({"errorDetail": {"message": e.message},
                                      "error": e.message}).encode() + b"\r\n")
            await w.end()
            return STREAMED
        for chunk in tr.rest(layers, "Already exists"):
            await w.write(chunk)
        await w.write(json.dumps({"status": f"Digest: {r['target']['digest']}"}).encode() + b"\r\n")
        news = "Image is up to date for" if before == r["target"]["digest"] else "Downloaded newer image for"
        await w.write(json.dumps({"status": f"Status: {news} {name}"}).encode() + b"\r\n")
        await w.end()
        self.engine.emit("image", "pull", name, {"name": name})
        return STREAMED

    async def build(self, req: Request):
        from busybox_engine.api.build import handle
        return await handle(self.engine, req)

    async def build_prune(self, req: Request) -> Response:
        return json_response({"CachesDeleted": None, "SpaceReclaimed": 0})   # no build cache kept

    async def search(self, req: Request) -> Response:
        """docker search asks a registry index; this daemon talks to no
        index (none is reachable from it), and says so."""
        term = req.arg("term") or ""
        if not term:
            raise InvalidArgument("a search term is required")
        from busybox_engine.image.reference import _split_domain
        domain = _split_domain(term)[0]
        raise Unavailable(f"search is not available: no registry index is reachable from this daemon "
                          f"({'index.docker.io' if domain == 'docker.io' else domain}); "
                          f"pull the image by name instead")

    async def _with_progress(self, w, kind: str, ref_name: str, **params) -> tuple:
        """images.pull or images.push of name, its progress written to w
        as Docker's lines while it runs; (result, Translator)."""
        import asyncio
        from busybox_engine.api.progress import Translator
        q = asyncio.Queue()
        tr = Translator(kind, q.put_nowait)
        stop = self.engine.ctd.listen(f"images.{kind}.progress",
                                      lambda ev: isinstance(ev, dict) and ev.get("name") == ref_name and tr(ev))
        call = asyncio.ensure_future(self.engine.ctd.call(f"images.{kind}", **params))
        try:
            while not call.done():
                get = asyncio.ensure_future(q.get())
                done, _ = await asyncio.wait([call, get], return_when=asyncio.FIRST_COMPLETED)
                if get in done:
                    await w.write(get.result())
                else:
                    get.cancel()
            while not q.empty():
                await w.write(q.get_nowait())
            return call.result(), tr
        finally:
            stop()
            if not call.done():
                call.cancel()

    async def tag(self, req: Request) -> Response:
        i = await self.engine.image(req.params["name"])
        repo = req.arg("repo") or ""
        if not repo:
            raise InvalidArgument("repository name must have at least one component")
        target = f"{repo}:{req.arg('tag') or 'latest'}"
        from busybox_engine.image.reference import parse
        try:
            parse(target)
        except (ValueError, InvalidArgument):
            raise InvalidArgument(f"invalid reference format: {target}") from None
        await self.engine.ctd.call("images.tag", source=i["name"], target=target)
        self.engine.emit("image", "tag", i["id"], {"name": target})
        return Response(201)

    async def delete(self, req: Request) -> Response:
        ref = req.params["name"]
        force = req.flag("force")
        i = await self.engine.image(ref)
        images = await self.engine.ctd.call("images.describe_all")
        names = [x["name"] for x in images if x["id"] == i["id"]]
        by_id = ref.startswith("sha256:") or i["id"].startswith("sha256:" + ref)
        users = [c for c in self.engine.containers.all() if c.data.get("Image") == i["id"]]
        from busybox_engine.image.reference import familiar
        if by_id and len(names) > 1 and not force:
            raise AlreadyExists(f"conflict: unable to delete {i['id'][7:19]} (must be forced) - "
                                "image is referenced in multiple repositories")
        last = by_id or len(names) == 1
        has_children = i["id"] in _parents(images)
        if by_id and has_children:
            raise AlreadyExists(f"conflict: unable to delete {i['id'][7:19]} (cannot be forced) - "
                                "image has dependent child images")
        if last and has_children and not i["id"] == i["name"]:
            # its last tag goes, the image stays (untagged) for its children, as in Docker
            await self.engine.ctd.call("images.tag", source=i["name"], target=i["id"])
            last = False
        if last and users and not force:
            c = users[0]
            word = "running" if c.state["Running"] else "stopped"
            raise AlreadyExists(f"conflict: unable to {'delete' if by_id else 'remove repository reference'} "
                                f"\"{ref}\" (must force) - container {c.id[:12]} is using its referenced "
                                f"image {i['id'][7:19]}" if word == "stopped" else
                                f"conflict: unable to delete {i['id'][7:19]} (cannot be forced) - image "
                                f"is being used by running container {c.id[:12]}")
        out = []
        for n in (names if by_id else [i["name"]]):
            try:
                await self.engine.ctd.call("images.delete", name=n)
            except NotFound:
                continue
            out.append({"Untagged": familiar(n)})
            self.engine.emit("image", "untag", i["id"], {"name": familiar(n)})
        if last:
            out.append({"Deleted": i["id"]})
            self.engine.emit("image", "delete", i["id"], {"name": i["id"]})
            out += await self._delete_parents(i)
        return json_response(out)

    async def _delete_parents(self, i: dict) -> list:
        """An image's untagged parents that nothing else holds (no other
        child, no container) go with it, as Docker deletes a build's
        intermediate images with its result."""
        out = []
        used = {c.data.get("Image") for c in self.engine.containers.all()}
        parent = (i.get("config") or {}).get("parent") or ""
        while parent:
            images = await self.engine.ctd.call("images.describe_all")
            records = [x for x in images if x["id"] == parent]
            if (not records or parent in used or any(not r["name"].startswith("sha256:") for r in records)
                    or parent in _parents(images)):
                break
            for r in records:
                try:
                    await self.engine.ctd.call("images.delete", name=r["name"])
                except NotFound:
                    pass
            out.append({"Deleted": parent})
            self.engine.emit("image", "delete", parent, {"name": parent})
            parent = (records[0].get("config") or {}).get("parent") or ""
        return out

    # --- archives ----------------------------------------------------------------------

    async def import_(self, req: Request):
        """docker import: a root filesystem tar (the body, or a URL we do
        not fetch) as a one-layer image."""
        from busybox_engine.api import archive
        if req.arg("fromSrc") != "-":
            raise InvalidArgument("import from a URL is not supported here: send the tar as the body")
        repo, tag = req.arg("repo") or "", req.arg("tag") or ""
        name = None
        if repo:
            name = f"{repo}:{tag}" if tag else repo
            from busybox_engine.image.reference import parse
            try:
                name = str(parse(name))
            except (ValueError, InvalidArgument):
                raise InvalidArgument(f"invalid reference format: {name}") from None
        body = archive.tmp_path(self.engine.config.data_root, "import")
        out = body + ".archive"
        files = [body, body + ".tar", out]
        try:
            await archive.save_body(req, body)
            import asyncio
            loop = asyncio.get_running_loop()
            layer = await loop.run_in_executor(None, archive.uncompressed, body)
            image_id = await loop.run_in_executor(
                None, archive.import_archive, layer, out, name, list(req.query.get("changes") or []),
                req.arg("message") or "")
            await self.engine.ctd.call("images.import", path=out)
        finally:
            archive.discard(*files)
        self.engine.emit("image", "import", image_id, {"name": image_id})
        return json_response({"status": image_id})

    async def get(self, req: Request):
        """docker save: a docker-archive of the images named."""
        from busybox_engine.api import archive
        names = list(req.query.get("names") or [])
        if "name" in req.params:
            names = [req.params["name"]]
        if not names:
            raise InvalidArgument("no images to save")
        resolved = []
        for n in names:
            i = await self.engine.image(n)
            # a name as given (with its tag), or the image's own name for an id
            resolved.append(i["name"] if i["id"].startswith(n if n.startswith("sha256:") else "sha256:" + n)
                            else n)
        path = archive.tmp_path(self.engine.config.data_root, "save")
        try:
            await self.engine.ctd.call("images.export", names=resolved, path=path)
            await archive.send_file(req, path)
        finally:
            archive.discard(path)
        return STREAMED

    async def load(self, req: Request):

        from busybox_engine.api import archive
        from busybox_engine.image.reference import familiar
        path = archive.tmp_path(self.engine.config.data_root, "load")
        try:
            await archive.save_body(req, path)
            names = await self.engine.ctd.call("images.import", path=path)
        finally:
            archive.discard(path)
        lines = []
        for n in names:
            if n.startswith("sha256:"):
                lines.append({"stream": f"Loaded image ID: {n}\n"})
            else:
                lines.append({"stream": f"Loaded image: {familiar(n)}\n"})
            self.engine.emit("image", "load", n, {"name": familiar(n)})
        body = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
        return Response(200, body, content_type="application/json")

    async def push(self, req: Request):
        name = req.params["name"]
        tag = req.arg("tag") or ""
        from busybox_engine.image.reference import familiar, parse
        full = f"{name}:{tag}" if tag else name
        try:
            ref = parse(full)
        except (ValueError, InvalidArgument):
            raise InvalidArgument(f"invalid reference format: {full}") from None
        try:
            await self.engine.ctd.call("images.get", name=str(ref))
        except NotFound:
            raise NotFound(f"An image does not exist locally with the tag: {familiar(name)}") from None
        from busybox_engine.api.archive import registry_auth
        user, password = registry_auth(req)
        w = await req.stream(200, "application/json")
        await w.write(json.dumps({"status": f"The push refers to repository [{ref.name}]"}).encode() + b"\r\n")
        try:
            r, _tr = await self._with_progress(w, "push", str(ref), name=str(ref), user=user,
                                               password=password,
                                               plain_http=ref.domain.startswith(("127.", "localhost")))
        except RPCError as e:
            await w.write(json.dumps({"errorDetail": {"message": e.message}, "error": e.message}).encode() + b"\r\n")
            await w.end()
            return STREAMED
        t = ref.tag or "latest"
        size = r.get("size", 0)
        await w.write(json.dumps({"status": f"{t}: digest: {r['digest']} size: {size}"}).encode() + b"\r\n")
        await w.write(json.dumps({"progressDetail": {}, "aux": {"Tag": t, "Digest": r["digest"], "Size": size}}).encode() + b"\r\n")
        await w.end()
        self.engine.emit("image", "push", str(ref), {"name": familiar(str(ref))})
        return STREAMED

    async def history(self, req: Request) -> Response:
        i = await self.engine.image(req.params["name"])
        cfg = i.get("config") or {}
        hist = cfg.get("history") or []
        layers = list(i.get("layers") or [])
        out = []
        for h in hist:
            size = 0
            if not h.get("empty_layer") and layers:
                size = int(layers.pop(0).get("size", 0))
            out.append({"Id": "<missing>", "Created": _created_unix(h),
                        "CreatedBy": h.get("created_by", ""), "Tags": None, "Size": size,
                        "Comment": h.get("comment", "")})
        out.reverse()
        if out:
            images = await self.engine.ctd.call("images.describe_all")
            by_id = {x["id"]: x for x in images}
            cur = i
            seen = set()
            while cur is not None and cur["id"] not in seen:
                # each image of the parent chain names the newest entry of its own history
                seen.add(cur["id"])
                n = len((cur.get("config") or {}).get("history") or [])
                if 0 < n <= len(out):
                    out[len(out) - n]["Id"] = cur["id"]
                    out[len(out) - n]["Tags"] = _repo_tags(images, cur["id"]) or None
                cur = by_id.get((cur.get("config") or {}).get("parent") or "")
        return json_response(out)

    async def prune(self, req: Request) -> Response:
        """Dangling images (untagged), or with dangling=false every image no
        container uses."""
        filters = req.json_arg("filters", {}) or {}
        dangling = filters.get("dangling", ["true"])
        if isinstance(dangling, dict):
            dangling = [k for k, v in dangling.items() if v]
        only_dangling = str(list(dangling)[-1]).lower() in ("1", "true") if dangling else True
        images = await self.engine.ctd.call("images.describe_all")
        used = {c.data.get("Image") for c in self.engine.containers.all()}
        from busybox_engine.image.reference import familiar
        deleted, space = [], 0
        by_id = {}
        for i in images:
            by_id.setdefault(i["id"], []).append(i)
        parents = _parents(images)
        for image_id, records in by_id.items():
            if image_id in used or image_id in parents:
                continue   # in use, or a parent (it goes with its last child)
            tagged = [r for r in records if not r["name"].startswith("sha256:")]
            if only_dangling and tagged:
                continue
            for r in records:
                await self.engine.ctd.call("images.delete", name=r["name"])
                if not r["name"].startswith("sha256:"):
                    deleted.append({"Untagged": familiar(r["name"])})
            deleted.append({"Deleted": image_id})
            space += records[0]["size"]
            self.engine.emit("image", "delete", image_id, {"name": image_id})
            deleted += await self._delete_parents(records[0])
        return json_response({"ImagesDeleted": deleted or None, "SpaceReclaimed": space})


def _parents(images: list) -> set:
    """The ids that are another image's parent."""
    return {(i.get("config") or {}).get("parent") for i in images} - {None, ""}


def _image_matches(x: dict, filters: dict) -> bool:
    import fnmatch
    for v in filters.get("dangling", []):
        dangling = x["RepoTags"] == ["<none>:<none>"]
        if (str(v).lower() in ("true", "1")) != dangling:
            return False
    refs = filters.get("reference", [])
    if refs and not any(fnmatch.fnmatch(t, r) or fnmatch.fnmatch(t.rsplit(":", 1)[0], r)
                        for t in x["RepoTags"] for r in refs):
        return False
    labels = x.get("Labels") or {}
    for v in filters.get("label", []):
        k, eq, val = str(v).partition("=")
        if k not in labels or (eq and labels[k] != val):
            return False
    return True
