"""ImageService: the images of namespace k8s.io, as containerd's CRI plugin
shows them. An image is its config digest (the image id); each pull records
three names for it, as containerd does: the tag, repo@manifest-digest and
the id, so `ctr -n k8s.io images ls` lists what kubelet sees."""
import asyncio
import base64
import json
import os
import time

from busybox_engine.cri import NAMESPACE
from busybox_engine.cri import cri_api_pb2 as pb
from busybox_engine.rpc.errors import InvalidArgument, NotFound


class Images:
    def __init__(self, service, config=None):
        self.service = service      # containerd's ImageService
        self.config = config        # CriConfig: registry_config_path

    # --- what is there ----------------------------------------------------------------

    def _groups(self) -> dict:
        """id -> {"id", "tags", "digests", "size", "config", "target"}."""
        groups = {}
        for d in self.service.images.describe_all(NAMESPACE):
            g = groups.setdefault(d["id"], {"id": d["id"], "tags": [], "digests": [], "names": [],
                                            "size": d["size"], "config": d["config"], "target": d["target"]})
            name = d["name"]
            g["names"].append(name)
            if name.startswith("sha256:"):
                continue
            repo = name.split("@", 1)[0] if "@" in name else name.rsplit(":", 1)[0]
            if "@" not in name:
                g["tags"].append(name)
            digest = f"{repo}@{d['target']['digest']}"
            if digest not in g["digests"]:
                g["digests"].append(digest)
        return groups

    def resolve(self, text: str) -> dict | None:
        """The image a kubelet reference names: an id, a tag or a digest
        reference, short names as Docker normalizes them; None if none."""
        if not isinstance(text, str) or not text:
            raise InvalidArgument("image name is required")
        groups = self._groups()
        if text.startswith("sha256:"):
            return groups.get(text)
        if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
            return groups.get("sha256:" + text)
        from busybox_engine.image.reference import normalize
        name = normalize(text)
        for g in groups.values():
            if name in g["names"] or name in g["digests"]:
                return g
        return None

    @staticmethod
    def _message(g: dict) -> "pb.Image":
        img = pb.Image(id=g["id"], repo_tags=sorted(g["tags"]), repo_digests=sorted(g["digests"]),
                       size=max(1, int(g["size"])), spec=pb.ImageSpec(image=g["id"]))
        user = ((g["config"].get("config") or {}).get("User") or "").split(":", 1)[0]
        if user.isdigit():
            img.uid.value = int(user)
        elif user:
            img.username = user
        return img

    # --- CRI --------------------------------------------------------------------------

    async def ListImages(self, request):
        loop = asyncio.get_running_loop()
        wanted = request.filter.image.image if request.HasField("filter") else ""
        if wanted:
            g = await loop.run_in_executor(None, self.resolve, wanted)
            groups = [g] if g else []
        else:
            groups = sorted((await loop.run_in_executor(None, self._groups)).values(), key=lambda g: g["id"])
        return pb.ListImagesResponse(images=[self._message(g) for g in groups])

    async def ImageStatus(self, request):
        g = await asyncio.get_running_loop().run_in_executor(None, self.resolve, request.image.image)
        if g is None:
            return pb.ImageStatusResponse()   # no image: no error, as the CRI says
        reply = pb.ImageStatusResponse(image=self._message(g))
        if request.verbose:
            from busybox_engine.image.snapshots import chain_ids
            diff_ids = (g["config"].get("rootfs") or {}).get("diff_ids") or []
            reply.info["info"] = json.dumps({"imageSpec": g["config"],
                                             "chainID": chain_ids(diff_ids)[-1] if diff_ids else ""})
        return reply

    async def PullImage(self, request):
        from busybox_engine.image.reference import parse
        ref = str(parse(request.image.image))
        user, password = _credentials(request.auth) if request.HasField("auth") else ("", "")
        from busybox_engine.cri.hosts import endpoints
        from busybox_engine.image.reference import parse as parse_ref
        hosts = endpoints(self.config.registry_config_path if self.config else "", parse_ref(ref).domain)
        result = await self.service.pull(ref, namespace=NAMESPACE, user=user, password=password, hosts=hosts)
        target = result["target"]
        describe = self.service.images.describe(result["name"], NAMESPACE)
        repo = ref.split("@", 1)[0] if "@" in ref else ref.rsplit(":", 1)[0]
        for name in (f"{repo}@{target['digest']}", describe["id"]):
            self.service.images.put(NAMESPACE, name, target)
        return pb.PullImageResponse(image_ref=describe["id"])

    async def RemoveImage(self, request):
        g = await asyncio.get_running_loop().run_in_executor(None, self.resolve, request.image.image)
        if g is None:
            return pb.RemoveImageResponse()   # gone already: idempotent
        for name in g["names"]:
            try:
                self.service.images.delete(name, NAMESPACE)
            except NotFound:
                pass
            self.service.events.publish(NAMESPACE, "/images/delete", {"name": name})
        await self.service.collect()
        return pb.RemoveImageResponse()

    async def ImageFsInfo(self, request):
        root = self.service.snapshots.root
        used, inodes = await asyncio.get_running_loop().run_in_executor(None, disk_usage, root)
        usage = pb.FilesystemUsage(timestamp=time.time_ns(), fs_id=pb.FilesystemIdentifier(mountpoint=root),
                                   used_bytes=pb.UInt64Value(value=used), inodes_used=pb.UInt64Value(value=inodes))
        return pb.ImageFsInfoResponse(image_filesystems=[usage])


def _credentials(auth) -> tuple:
    """(user, password) from an AuthConfig: its fields, or `auth` (base64 user:password)."""
    if auth.username:
        return auth.username, auth.password
    if auth.auth:
        try:
            user, _, password = base64.b64decode(auth.auth).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgument("invalid auth: not base64 of user:password") from None
        return user, password
    return "", ""


def disk_usage(root: str) -> tuple:
    """(bytes, inodes) under root, each inode counted once."""
    seen, used = set(), 0
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(d, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                used += st.st_blocks * 512
    return used, len(seen)
