"""containerd's images, content and snapshot services."""
import asyncio
import os

from busybox_engine.image.content import ContentStore
from busybox_engine.image.images import Images
from busybox_engine.image.leases import Leases
from busybox_engine.image.snapshots import Snapshotter, chain_ids
from busybox_engine.rpc.errors import (FailedPrecondition, InvalidArgument, NotFound, Unauthenticated,
                                       Unavailable)


class ImageService:
    def __init__(self, root: str, store, events, hosts=None):
        self.content = ContentStore(os.path.join(root, "content"))
        self.images = Images(store, self.content)
        self.snapshots = Snapshotter(os.path.join(root, "snapshots", "overlayfs"))
        self.events = events
        self.lock = asyncio.Lock()  # one import at a time (pulls share work through inflight)
        self._inflight = None   # made with the first pull: the registry client loads then
        from busybox_engine.image.hosts import RegistryHosts
        self.hosts = hosts or RegistryHosts()
        self.leases = Leases()   # what is in use: the collector leaves it alone
        import threading
        self.collecting = threading.Lock()  # one collection at a time

    def inflight(self):
        if self._inflight is None:
            from busybox_engine.image.pull import InFlight
            self._inflight = InFlight()
        return self._inflight

    # --- RPC -------------------------------------------------------------------------

    async def import_(self, path: str, namespace: str = "default") -> list:
        """images.import: a docker-archive tar; its images unpacked."""
        if not os.path.isabs(path):
            raise InvalidArgument(f"import: {path!r} is not an absolute path")
        loop = asyncio.get_running_loop()
        async with self.lock:
            with self.leases.lease() as lease:
                names = await loop.run_in_executor(None, self.images.import_archive, path, namespace, lease)
                for name in names:
                    if not name.startswith("sha256:"):
                        await loop.run_in_executor(None, self._unpack, name, namespace, lease)
        for name in names:
            self.events.publish(namespace, "/images/create", {"name": name})
        return names

    async def pull(self, name: str, namespace: str = "default", plain_http: bool = False,
                   user: str = "", password: str = "", platform: str = "linux/amd64", hosts: list | None = None,
                   *, _conn=None) -> dict:
        """images.pull: name from its registry, unpacked; {"name", "target"}.
        Each blob fetched is told to the caller as an `images.pull.progress`
        notification."""
        from busybox_engine.image.distribution import Registry
        from busybox_engine.image.pull import parse_platform, pull
        from busybox_engine.image.reference import parse
        ref = parse(name)
        plat = parse_platform(platform)
        loop = asyncio.get_running_loop()

        def progress(event: dict) -> None:
            # byte counts may be dropped for a slow reader; a blob's end is told
            if _conn is not None:
                loop.call_soon_threadsafe(_conn.notify, "images.pull.progress", dict(event, name=str(ref)),
                                          "offset" in event)
        # hosts: [host, plain_http, skip_verify] to try in order (the CRI's
        # hosts.toml), else what the daemon.json-shaped configuration says
        endpoints = [(h, p, bool(v)) for h, p, v in hosts] if hosts else \
            [(h, p, False) for h, p in self.hosts.endpoints(ref.domain)]
        for i, (host, plain, skip_verify) in enumerate(endpoints):
            mirror = host != ref.domain
            registry = Registry(ref.domain, plain_http=plain_http or bool(plain), host=host,
                                insecure=self.hosts.is_insecure(host), skip_verify=skip_verify,
                                credentials=(user, password) if user and not mirror else None)
            try:
                # pulls run side by side; one blob or layer is fetched or unpacked once
                with self.leases.lease() as lease:
                    target = await loop.run_in_executor(None, lambda: pull(
                        self.images, ref, registry, namespace, plat, progress, self.unpack_layer,
                        self.inflight(), lease))
                break
            except (Unavailable, NotFound, Unauthenticated):
                if i == len(endpoints) - 1:
                    raise  # mirrors that fail fall through to the registry itself
        self.events.publish(namespace, "/images/create", {"name": str(ref)})
        return {"name": str(ref), "target": target}

    async def push(self, name: str, image: str = "", namespace: str = "default", plain_http: bool = False,
                   user: str = "", password: str = "", mount_from: str = "", chunk_size: int = 0,
                   *, _conn) -> dict:
        """images.push: local image `image` (default: name) to name's
        registry; `images.push.progress` notifications per blob."""
        from busybox_engine.image.distribution import Registry
        from busybox_engine.image.push import CHUNK, push
        from busybox_engine.image.reference import parse
        ref = parse(name)
        registry = Registry(ref.domain, plain_http=plain_http, insecure=self.hosts.is_insecure(ref.domain),
                            credentials=(user, password) if user else None)
        loop = asyncio.get_running_loop()

        def progress(event: dict) -> None:
            # byte counts may be dropped for a slow reader; a blob's end is told
            loop.call_soon_threadsafe(_conn.notify, "images.push.progress", dict(event, name=str(ref)),
                                      "offset" in event)
        with self.leases.lease() as lease:
            self._lease_image(image or name, namespace, lease)
            return await loop.run_in_executor(None, lambda: push(
                self.images, image or name, ref, registry, namespace, mount_from, progress, chunk_size or CHUNK))

    async def export(self, names: list, path: str, namespace: str = "default") -> None:
        """images.export: a docker-archive of these images at path."""
        if not os.path.isabs(path) or not names or not all(isinstance(n, str) for n in names):
            raise InvalidArgument("export: names and an absolute path are needed")
        loop = asyncio.get_running_loop()
        with self.leases.lease() as lease:
            for name in names:
                self._lease_image(name, namespace, lease)
            await loop.run_in_executor(None, self.images.export_archive, names, path, namespace)

    def list(self, namespace: str = "default") -> list:
        return self.images.list(namespace)

    def get(self, name: str, namespace: str = "default") -> dict:
        return self.images.get(name, namespace)

    def config(self, name: str, namespace: str = "default") -> dict:
        return self.images.config(name, namespace)

    def describe(self, name: str, namespace: str = "default") -> dict:
        return self.images.describe(name, namespace)

    def describe_all(self, namespace: str = "default") -> list:
        return self.images.describe_all(namespace)

    def tag(self, source: str, target: str, namespace: str = "default") -> dict:
        return self.images.tag(source, target, namespace)

    async def delete(self, name: str, namespace: str = "default") -> None:
        self.images.delete(name, namespace)
        self.events.publish(namespace, "/images/delete", {"name": name})
        await self.collect()

    def content_list(self) -> list:
        return [self.content.info(d) for d in self.content.list()]

    def content_info(self, digest: str) -> dict:
        return self.content.info(digest)

    def content_delete(self, digest: str) -> None:
        """content.delete: a blob no image needs (gc.run takes them all)."""
        self.content.info(digest)  # NotFound first
        if digest in self._references()[0]:
            raise FailedPrecondition(f"content {digest} is in use by an image")
        with self.leases.mu:
            if self.leases.holds_blob(digest):
                raise FailedPrecondition(f"content {digest} is in use by a pull, import or export")
            self.content.delete(digest)

    def snapshots_list(self) -> list:
        """Committed layers (by ChainID) and containers' active snapshots."""
        import json
        out = []
        for name in sorted(os.listdir(self.snapshots.committed)):
            try:
                with open(os.path.join(self.snapshots.committed, name, "meta.json")) as f:
                    meta = json.load(f)
            except (OSError, ValueError):
                continue
            out.append({"key": meta.get("chain_id") or name, "parent": meta.get("parent") or "",
                        "kind": "committed"})
        for key, parent in sorted(self.snapshots.active_snapshots().items()):
            out.append({"key": key, "parent": parent or "", "kind": "active"})
        return out

    def _references(self) -> tuple:
        """(blobs, chain ids) that some image, in any namespace, or some
        container's snapshot needs."""
        import json
        keep_blobs, keep_chains = set(), set()
        store = self.images.store
        for ns in store.namespaces("images"):
            for record in store.list("images", ns):
                try:
                    digest = record["target"]["digest"]
                    keep_blobs.add(digest)
                    manifest = json.loads(self.content.read(digest))
                    keep_blobs.add(manifest["config"]["digest"])
                    keep_blobs.update(layer["digest"] for layer in manifest["layers"])
                    config = json.loads(self.content.read(manifest["config"]["digest"]))
                    keep_chains.update(chain_ids(config["rootfs"]["diff_ids"]))
                except Exception:  # noqa: BLE001 - a broken record keeps nothing alive
                    continue
        # containers on snapshots keep their whole chain
        for parent in self.snapshots.active_snapshots().values():
            try:
                while parent and parent not in keep_chains:
                    keep_chains.add(parent)
                    parent = self.snapshots.parent_chain(parent)
            except (OSError, ValueError, KeyError):
                continue
        return keep_blobs, keep_chains

    async def gc(self) -> dict:
        """gc.run: remove what nothing needs; {"blobs": N, "snapshots": N}."""
        return await self.collect()

    async def collect(self) -> dict:
        return await asyncio.get_running_loop().run_in_executor(None, self._collect)

    def _collect(self) -> dict:
        """Remove blobs and committed snapshots that no image (in any
        namespace), no container's snapshot and no lease refers to."""
        import json
        import shutil
        with self.collecting:
            self.leases.begin_collection()
            try:
                keep_blobs, keep_chains = self._references()
                removed_blobs = 0
                for d in self.content.list():
                    if d in keep_blobs:
                        continue
                    with self.leases.mu:
                        if self.leases.holds_blob(d):
                            continue
                        try:
                            self.content.delete(d)
                            removed_blobs += 1
                        except NotFound:
                            pass
                removed_snaps = 0
                for name in os.listdir(self.snapshots.committed):
                    path = os.path.join(self.snapshots.committed, name)
                    try:
                        with open(os.path.join(path, "meta.json")) as f:
                            chain = json.load(f)["chain_id"]
                    except (OSError, ValueError, KeyError):
                        chain = None
                    if chain in keep_chains:
                        continue
                    trash = os.path.join(self.snapshots.tmp, f"gc-{name}-{os.urandom(4).hex()}")
                    with self.leases.mu:
                        if chain is not None and self.leases.holds_chain(chain):
                            continue
                        try:
                            os.rename(path, trash)  # gone from sight at once; removed below
                        except FileNotFoundError:
                            continue
                    shutil.rmtree(trash, ignore_errors=True)
                    removed_snaps += 1
            finally:
                self.leases.end_collection()
        return {"blobs": removed_blobs, "snapshots": removed_snaps}

    def _lease_image(self, name: str, namespace: str, lease) -> None:
        """Lease an image's manifest, config and layers (NotFound if it or
        they are gone already)."""
        import json
        digest = self.images.get(name, namespace)["target"]["digest"]
        lease.blob(digest)
        try:
            manifest = json.loads(self.content.read(digest))
            lease.blob(manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"]))
        except (ValueError, KeyError, TypeError):
            pass  # an index or a broken manifest: the operation itself says so

    # --- used by containers ----------------------------------------------------------

    async def commit(self, key: str, image: str, name: str, config: dict, history: dict,
                     namespace: str) -> dict:
        """A new image: image's layers and the changes in snapshot key as
        one more; config is its image config without rootfs and history
        (image's, with `history` appended). Named name, or untagged (its
        id) without one. {"id", "name"}"""
        if not isinstance(config, dict) or not isinstance(history, dict):
            raise InvalidArgument("commit: config and history must be objects")
        loop = asyncio.get_running_loop()
        with self.leases.lease() as lease:
            self._lease_image(image, namespace, lease)
            out = await loop.run_in_executor(None, self._commit, key, image, name, config, history,
                                             namespace, lease)
        self.events.publish(namespace, "/images/create", {"name": out["name"]})
        return out

    def _commit(self, key, image, name, config, history, namespace, lease) -> dict:
        import json
        from busybox_engine.image import diff
        from busybox_engine.image.images import CONFIG, LAYER, MANIFEST
        try:
            manifest = self.images.manifest(image, namespace)
            base = self.images.config(image, namespace)
        except NotFound:
            raise FailedPrecondition(f"commit: the container's image {image!r} is gone") from None
        upper, lowers = self.snapshots.layers(key)
        w = self.content.writer(lease=lease)
        try:
            diff.write_tar(upper, lowers, _Counting(w))
        except BaseException:
            w.abort()
            raise
        size = w.written
        digest = w.commit()
        diff_ids = list(base["rootfs"]["diff_ids"]) + [digest]
        cfg = dict(config, rootfs={"type": "layers", "diff_ids": diff_ids},
                   history=list(base.get("history") or []) + [history])
        raw = json.dumps(cfg, separators=(",", ":")).encode()
        config_digest = self.content.put(raw, lease=lease)
        layer = {"mediaType": LAYER, "digest": digest, "size": size}
        m = {"schemaVersion": 2, "mediaType": MANIFEST,
             "config": {"mediaType": CONFIG, "digest": config_digest, "size": len(raw)},
             "layers": list(manifest["layers"]) + [layer]}
        mraw = json.dumps(m, separators=(",", ":")).encode()
        target = {"mediaType": MANIFEST, "digest": self.content.put(mraw, lease=lease), "size": len(mraw)}
        chains = chain_ids(diff_ids)
        lease.chain(*chains)
        self.unpack_layer(layer, digest, chains[-1], chains[-2] if len(chains) > 1 else None)
        name = name or config_digest
        self.images.put(namespace, name, target)
        return {"id": config_digest, "name": name}

    async def configure(self, image: str, name: str, config: dict, history: dict,
                        namespace: str = "default") -> dict:
        """images.configure: a new image with image's layers (none for "")
        and config; history (image's, with `history` appended as an empty
        layer). What a Dockerfile's metadata steps make. {"id", "name"}"""
        if not isinstance(config, dict) or not isinstance(history, dict):
            raise InvalidArgument("configure: config and history must be objects")
        loop = asyncio.get_running_loop()
        with self.leases.lease() as lease:
            if image:
                self._lease_image(image, namespace, lease)
            out = await loop.run_in_executor(None, self._configure, image, name, config, history,
                                             namespace, lease)
        self.events.publish(namespace, "/images/create", {"name": out["name"]})
        return out

    def _configure(self, image, name, config, history, namespace, lease) -> dict:
        import json
        from busybox_engine.image.images import CONFIG, MANIFEST
        if image:
            manifest = self.images.manifest(image, namespace)
            base = self.images.config(image, namespace)
        else:
            manifest, base = {"layers": []}, {"rootfs": {"type": "layers", "diff_ids": []}}
        cfg = dict(config, rootfs={"type": "layers", "diff_ids": list(base["rootfs"]["diff_ids"])},
                   history=list(base.get("history") or []) + ([dict(history, empty_layer=True)] if history else []))
        raw = json.dumps(cfg, separators=(",", ":")).encode()
        config_digest = self.content.put(raw, lease=lease)
        m = {"schemaVersion": 2, "mediaType": MANIFEST,
             "config": {"mediaType": CONFIG, "digest": config_digest, "size": len(raw)},
             "layers": list(manifest["layers"])}
        mraw = json.dumps(m, separators=(",", ":")).encode()
        target = {"mediaType": MANIFEST, "digest": self.content.put(mraw, lease=lease), "size": len(mraw)}
        name = name or config_digest
        self.images.put(namespace, name, target)
        return {"id": config_digest, "name": name}

    async def prepare_snapshot(self, key: str, image: str, namespace: str) -> None:
        """A container's writable snapshot over image's layers, its chain
        leased until the snapshot refers to it."""
        with self.leases.lease() as lease:
            diff_ids = self.images.config(image, namespace)["rootfs"]["diff_ids"]
            if not diff_ids:   # FROM scratch: an empty root of its own
                self.snapshots.prepare(key, None)
                return
            chains = chain_ids(diff_ids)
            lease.chain(*chains)
            if not self.snapshots.has(chains[-1]):
                raise NotFound(f"image {image!r}: its layers are not unpacked")
            self.snapshots.prepare(key, chains[-1])

    def unpack_layer(self, layer: dict, diff_id: str, chain: str, parent: str | None, download=None) -> None:
        """A layer blob into its committed snapshot, its uncompressed
        digest checked against diff_id on the way (one pass over it), in a
        worker process (see unpack_worker). With download (see pull.pull),
        the worker unpacks the blob as it downloads."""
        from busybox_engine.image import unpack_worker
        blob = self.content.path(layer["digest"])
        fetched = False

        def fill(fs: str) -> None:
            nonlocal fetched
            if download is None:
                unpack_worker.run(blob, layer["mediaType"], fs, diff_id)
                return
            stream = unpack_worker.Stream(layer["mediaType"], fs, diff_id, layer["size"])
            try:
                download(stream)
            except BaseException:
                stream.kill()
                raise
            fetched = True
            stream.finish(blob)
        self.snapshots.commit_layer(chain, parent, fill)
        if download is not None and not fetched:
            download(None)  # the snapshot was there: the blob still goes in the store

    def _unpack(self, name: str, namespace: str, lease) -> None:
        """An imported image's layers into snapshots, as a pull's are."""
        manifest = self.images.manifest(name, namespace)
        diff_ids = self.images.config(name, namespace)["rootfs"]["diff_ids"]
        lease.chain(*chain_ids(diff_ids))
        parent = None
        for layer, diff_id, chain in zip(manifest["layers"], diff_ids, chain_ids(diff_ids)):
            self.unpack_layer(layer, diff_id, chain, parent)
            parent = chain


class _Counting:
    """A content writer as a file for tarfile."""

    def __init__(self, w):
        self.w = w

    def write(self, data) -> int:
        self.w.write(bytes(data))
        return len(data)
