"""Volumes of the `local` driver, as Docker keeps them: DATA_ROOT/volumes/
NAME/_data, with NAME/opts.json holding labels, driver options and the
creation time. Driver options type/device/o mount something else there
(a tmpfs, an NFS export, a block device) while a container uses it."""
import json
import os
import re
import secrets
import shutil
import subprocess

from busybox_engine.api.http import Request, Response, json_response
from busybox_engine.rpc.errors import AlreadyExists, InvalidArgument, NotFound
from busybox_engine.util.atomicfile import atomic_write
from busybox_engine.util.timefmt import rfc3339nano

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


class Volumes:
    def __init__(self, root: str):
        self.root = root
        os.makedirs(root, mode=0o701, exist_ok=True)

    def _dir(self, name: str) -> str:
        return os.path.join(self.root, name)

    def exists(self, name: str) -> bool:
        return os.path.isfile(os.path.join(self._dir(name), "opts.json"))

    def get(self, name: str) -> dict:
        if not isinstance(name, str) or not NAME.match(name) or not self.exists(name):
            raise NotFound(f"get {name}: no such volume")
        with open(os.path.join(self._dir(name), "opts.json")) as f:
            meta = json.load(f)
        return {"CreatedAt": meta.get("CreatedAt", ""), "Driver": "local",
                "Labels": meta.get("Labels") or {}, "Mountpoint": os.path.join(self._dir(name), "_data"),
                "Name": name, "Options": meta.get("Options") or {}, "Scope": "local"}

    def create(self, name: str = "", labels: dict | None = None, options: dict | None = None,
               driver: str = "local") -> dict:
        if driver not in ("", "local"):
            raise NotFound(f"error looking up volume plugin {driver}: plugin \"{driver}\" not found")
        anonymous = not name
        name = name or secrets.token_hex(32)
        if not NAME.match(name):
            raise InvalidArgument(f"create {name}: \"{name}\" includes invalid characters for a local "
                                  "volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you "
                                  "intended to pass a host directory, use absolute path")
        options = options or {}
        for k in options:
            if k not in ("type", "device", "o", "size"):
                raise InvalidArgument(f"create {name}: invalid option key: \"{k}\"")
        if self.exists(name):
            return self.get(name)   # Docker: create of an existing volume returns it
        d = self._dir(name)
        os.makedirs(os.path.join(d, "_data"), exist_ok=True)
        labels = dict(labels or {})
        if anonymous:
            labels.setdefault("com.docker.volume.anonymous", "")
        atomic_write(os.path.join(d, "opts.json"), json.dumps(
            {"CreatedAt": rfc3339nano().split(".")[0] + "Z", "Labels": labels, "Options": options}))
        return self.get(name)

    def list(self) -> list:
        out = []
        for name in sorted(os.listdir(self.root)):
            if NAME.match(name) and self.exists(name):
                try:
                    out.append(self.get(name))
                except (OSError, ValueError, NotFound):
                    continue
        return out

    def mount(self, name: str) -> str:
        """The volume's path, its device mounted there if it has one."""
        v = self.get(name)
        opts = v["Options"]
        path = v["Mountpoint"]
        if opts.get("type") and not os.path.ismount(path):
            args = ["mount", "-t", opts["type"]]
            if opts.get("o"):
                args += ["-o", opts["o"]]
            r = subprocess.run(args + [opts.get("device") or opts["type"], path], capture_output=True,
                               text=True)
            if r.returncode != 0:
                raise InvalidArgument(f"error while mounting volume '{path}': failed to mount local "
                                      f"volume: {r.stderr.strip()}")
        return path

    def remove(self, name: str) -> None:
        self.get(name)
        path = os.path.join(self._dir(name), "_data")
        if os.path.ismount(path):
            subprocess.run(["umount", path], capture_output=True)
        os.unlink(os.path.join(self._dir(name), "opts.json"))
        shutil.rmtree(self._dir(name), ignore_errors=True)

    def size(self, name: str) -> int:
        total = 0
        for top, _dirs, files in os.walk(os.path.join(self._dir(name), "_data")):
            for f in files:
                try:
                    total += os.lstat(os.path.join(top, f)).st_size
                except OSError:
                    pass
        return total


def register(r, engine) -> None:
    h = VolumeRoutes(engine)
    r.add("POST", "/volumes/create", h.create)
    r.add("GET", "/volumes", h.list)
    r.add("POST", "/volumes/prune", h.prune)
    r.add("GET", "/volumes/{name}", h.inspect)
    r.add("DELETE", "/volumes/{name}", h.remove)


class VolumeRoutes:
    def __init__(self, engine):
        self.engine = engine
        self.volumes = engine.volumes

    def users(self, name: str) -> list:
        return [c for c in self.engine.containers.all()
                if any(m.get("Name") == name for m in c.data.get("MountPoints") or [])]

    async def create(self, req: Request) -> Response:
        body = await req.json({}) or {}
        if not isinstance(body, dict):
            raise InvalidArgument("volume config must be an object")
        for key, kind in (("Name", str), ("Driver", str), ("Labels", dict), ("DriverOpts", dict)):
            if body.get(key) is not None and not isinstance(body[key], kind):
                raise InvalidArgument(f"json: cannot unmarshal into Go struct field "
                                      f"VolumeCreateBody.{key}")
        v = self.volumes.create(body.get("Name") or "", body.get("Labels"), body.get("DriverOpts"),
                                body.get("Driver") or "local")
        self.engine.emit("volume", "create", v["Name"], {"driver": "local"})
        return json_response(v, 201)

    async def list(self, req: Request) -> Response:
        filters = req.json_arg("filters", {}) or {}
        vols = self.volumes.list()
        out = []
        for v in vols:
            if not _matches(v, filters, bool(self.users(v["Name"]))):
                continue
            out.append(v)
        return json_response({"Volumes": out, "Warnings": None})

    async def inspect(self, req: Request) -> Response:
        return json_response(self.volumes.get(req.params["name"]))

    async def remove(self, req: Request) -> Response:
        name = req.params["name"]
        self.volumes.get(name)
        users = self.users(name)
        if users:
            raise AlreadyExists(f"remove {name}: volume is in use - "
                                f"[{', '.join(c.id for c in users)}]")
        self.volumes.remove(name)
        self.engine.emit("volume", "destroy", name, {"driver": "local"})
        return Response(204)

    async def prune(self, req: Request) -> Response:
        filters = req.json_arg("filters", {}) or {}
        deleted, space = [], 0
        for v in self.volumes.list():
            if self.users(v["Name"]):
                continue
            # Docker 23+ prunes only anonymous volumes unless all=true; 20.10 prunes every unused one
            if "all" in filters and not _flag(filters["all"]) and "com.docker.volume.anonymous" not in v["Labels"]:
                continue
            if not _matches(v, {k: f for k, f in filters.items() if k == "label"}, False):
                continue
            space += self.volumes.size(v["Name"])
            self.volumes.remove(v["Name"])
            deleted.append(v["Name"])
            self.engine.emit("volume", "destroy", v["Name"], {"driver": "local"})
        return json_response({"VolumesDeleted": deleted, "SpaceReclaimed": space})


def _flag(values) -> bool:
    values = list(values) if isinstance(values, (list, dict)) else [values]
    return any(str(v).lower() in ("1", "true") for v in values)


def _matches(v: dict, filters: dict, used: bool) -> bool:
    for key, values in filters.items():
        values = list(values) if isinstance(values, (list, dict)) else [values]
        if key == "name" and not any(x in v["Name"] for x in values):
            return False
        if key == "driver" and "local" not in values:
            return False
        if key == "dangling" and _flag(values) == used:
            return False
        if key == "label":
            for x in values:
                k, eq, val = str(x).partition("=")
                if k not in v["Labels"] or (eq and v["Labels"][k] != val):
                    return False
    return True
