"""docker commit and docker diff: POST /commit, GET /containers/{id}/changes."""
from busybox_engine.api.http import Request, Response, json_response
from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument


def register(r, engine) -> None:
    h = CommitRoutes(engine)
    r.add("POST", "/commit", h.commit)
    r.add("GET", "/containers/{id}/changes", h.changes)


def image_config(container_config: dict, user: dict | None, changes: list) -> dict:
    """The committed image's Config as Docker makes it: the caller's
    config (or the container's), --change applied, the gaps filled from
    the container's."""
    from busybox_engine.api.archive import apply_changes
    from busybox_engine.api.engine import merge_image_config
    cfg = apply_changes(changes, user if user else container_config)
    return merge_image_config(cfg, container_config)


class CommitRoutes:
    def __init__(self, engine):
        self.engine = engine

    async def changes(self, req: Request) -> Response:
        c = self.engine.containers.get(req.params["id"])
        out = await self.engine.ctd.call("containers.changes", id=c.id)
        return json_response(out or None)

    async def commit(self, req: Request) -> Response:
        ref = req.arg("container") or ""
        if not ref:
            raise InvalidArgument("No container name or ID supplied")
        c = self.engine.containers.get(ref)
        user = await req.json()
        if user is not None and not isinstance(user, dict):
            raise InvalidArgument("json: cannot unmarshal into Go value of type container.Config")
        repo, tag = req.arg("repo") or "", req.arg("tag") or ""
        name = ""
        if repo:
            from busybox_engine.image.reference import parse
            full = f"{repo}:{tag}" if tag else repo
            try:
                ref_ = parse(full)
            except (ValueError, InvalidArgument):
                raise InvalidArgument(f"invalid reference format: {full}") from None
            if "@" in full:
                raise InvalidArgument("invalid reference format: a digest cannot be committed to")
            name = str(ref_)
        elif tag:
            raise InvalidArgument("tag given without a repository")
        if c.state.get("Removing") or c.state["Dead"]:
            raise FailedPrecondition(f"You cannot commit container {c.id} which is being removed")
        changes = [str(x) for x in (req.query.get("changes") or [])]
        config = image_config(c.config, user, changes)
        from busybox_engine.util.timefmt import rfc3339nano
        now = rfc3339nano()
        author, comment = req.arg("author") or "", req.arg("comment") or ""
        image = {"architecture": "amd64", "os": "linux", "created": now, "author": author,
                 "comment": comment, "config": config, "container": c.id,
                 "container_config": c.config, "docker_version": _version(),
                 "parent": c.data.get("Image", "")}
        history = {"created": now, "created_by": " ".join(c.config.get("Cmd") or []), "comment": comment}
        if author:
            history["author"] = author
        pause = req.arg("pause") in (None, "", "1", "true", "True") and c.state["Running"] \
            and not c.state["Paused"]
        if pause:
            await self.engine.ctd.call("tasks.pause", container_id=c.id)
        try:
            out = await self.engine.ctd.call("containers.commit", id=c.id, name=name, config=image,
                                             history=history)
        finally:
            if pause:
                await self.engine.ctd.call("tasks.resume", container_id=c.id)
        from busybox_engine.image.reference import familiar
        self.engine.container_event(c, "commit", comment=comment, imageID=out["id"],
                                    imageRef=familiar(name) if name else "")
        return json_response({"Id": out["id"]}, 201)


def _version() -> str:
    from busybox_engine import __version__
    return __version__
