"""Image records (name -> manifest descriptor) and docker-archive import."""
import hashlib
import io
import json
import posixpath
import tarfile
import time

from busybox_engine.image.compression import HashingReader, decompressed
from busybox_engine.image.content import ContentStore, check_descriptor
from busybox_engine.image.reference import normalize
from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument, NotFound

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
INDEX = "application/vnd.oci.image.index.v1+json"
MAX_JSON = 4 * 1024 * 1024


def record_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _name(name: str) -> str:
    """A record's name: a reference normalized, or an untagged image's
    own id (sha256:...) as it is."""
    if name.startswith("sha256:") and len(name) == 71:
        return name
    return normalize(name)


class Images:
    def __init__(self, store, content: ContentStore):
        # store: containerd's record store (containerd.store.Store)
        self.store = store
        self.content = content

    def put(self, namespace: str, name: str, target: dict) -> dict:
        record = {"name": name, "target": target, "created_at": time.time()}
        return self.store.put("images", namespace, record_id(name), record)

    def get(self, name: str, namespace: str = "default") -> dict:
        try:
            return self.store.get("images", namespace, record_id(_name(name)))
        except NotFound:
            raise NotFound(f"image {name!r}: not found") from None

    def list(self, namespace: str = "default") -> list:
        return sorted(self.store.list("images", namespace), key=lambda r: r["name"])

    def delete(self, name: str, namespace: str = "default") -> None:
        self.get(name, namespace)
        self.store.delete("images", namespace, record_id(_name(name)))

    def tag(self, source: str, target: str, namespace: str = "default") -> dict:
        return self.put(namespace, _name(target), self.get(source, namespace)["target"])

    def manifest(self, name: str, namespace: str = "default") -> dict:
        return json.loads(self.content.read(self.get(name, namespace)["target"]["digest"]))

    def config(self, name: str, namespace: str = "default") -> dict:
        return json.loads(self.content.read(self.manifest(name, namespace)["config"]["digest"]))

    def describe(self, name: str, namespace: str = "default", record: dict | None = None) -> dict:
        """What dockerd shows of an image: its id (the config's digest),
        config, layers and their total size."""
        record = record or self.get(name, namespace)
        manifest = json.loads(self.content.read(record["target"]["digest"]))
        digest = manifest["config"]["digest"]
        return {"name": record["name"], "target": record["target"],
                "created_at": record.get("created_at", 0), "id": digest,
                "config": json.loads(self.content.read(digest)),
                "layers": manifest.get("layers") or [],
                "size": sum(int(layer.get("size", 0)) for layer in manifest.get("layers") or [])}

    def describe_all(self, namespace: str = "default") -> list:
        out = []
        for record in self.list(namespace):
            try:
                out.append(self.describe(record["name"], namespace, record))
            except (NotFound, OSError, ValueError, KeyError):
                continue  # an image whose content is going: not listed
        return out

    # --- docker-archive export ----------------------------------------------------

    def export_archive(self, names: list, path: str, namespace: str = "default") -> None:
        """Write what `docker save` writes: a docker-archive (manifest.json,
        repositories) that is also an OCI image layout (oci-layout,
        index.json, blobs/sha256/...); layers go in once, uncompressed."""
        import os
        import tempfile
        entries, index, repositories, added = [], [], {}, set()
        tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            with tarfile.open(tmp, "w") as tar:
                def add_bytes(name: str, data: bytes) -> None:
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime = len(data), 0
                    tar.addfile(info, io.BytesIO(data))

                def add_blob(digest: str, data: bytes | None = None, layer: dict | None = None) -> str:
                    name = "blobs/sha256/" + digest.split(":", 1)[1]
                    if name in added:
                        return name
                    added.add(name)
                    if data is not None:
                        add_bytes(name, data)
                        return name
                    with open(self.content.path(layer["digest"]), "rb") as f, \
                            tempfile.TemporaryFile(dir=os.path.dirname(path) or ".") as spool:
                        src = decompressed(f, layer.get("mediaType", ""))
                        for chunk in iter(lambda: src.read(1 << 20), b""):
                            spool.write(chunk)
                        info = tarfile.TarInfo(name)
                        info.size, info.mtime = spool.tell(), 0
                        spool.seek(0)
                        tar.addfile(info, spool)
                    return name

                add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
                for name in names:
                    record = self.get(name, namespace)
                    manifest = json.loads(self.content.read(record["target"]["digest"]))
                    config_digest = manifest["config"]["digest"]
                    config_raw = self.content.read(config_digest)
                    diff_ids = json.loads(config_raw)["rootfs"]["diff_ids"]
                    config_name = add_blob(config_digest, config_raw)
                    layer_names = [add_blob(d, layer=layer) for d, layer in zip(diff_ids, manifest["layers"])]
                    short = record["name"].replace("docker.io/library/", "").replace("docker.io/", "")
                    entries.append({"Config": config_name, "RepoTags": [short], "Layers": layer_names})
                    repo, _, tag = short.rpartition(":")
                    repositories.setdefault(repo, {})[tag] = diff_ids[-1].split(":", 1)[1] if diff_ids else ""
                    oci = {"schemaVersion": 2, "mediaType": MANIFEST,
                           "config": {"mediaType": CONFIG, "digest": config_digest, "size": len(config_raw)},
                           "layers": [{"mediaType": LAYER, "digest": d,
                                       "size": tar.getmember(n).size} for d, n in zip(diff_ids, layer_names)]}
                    raw = json.dumps(oci).encode()
                    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
                    add_blob(digest, raw)
                    index.append({"mediaType": MANIFEST, "digest": digest, "size": len(raw),
                                  "annotations": {"io.containerd.image.name": record["name"],
                                                  "org.opencontainers.image.ref.name": tag}})
                add_bytes("index.json", json.dumps({"schemaVersion": 2, "mediaType": INDEX,
                                                    "manifests": index}).encode())
                add_bytes("repositories", json.dumps(repositories).encode())
                add_bytes("manifest.json", json.dumps(entries).encode())
            os.rename(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    # --- docker-archive import ---------------------------------------------------

    def import_archive(self, path: str, namespace: str = "default", lease=None) -> list:
        """Import what `docker save` writes; the names imported. Each blob is
        leased (lease: a leases.Lease) before it is looked for or stored."""
        try:
            tar = tarfile.open(path, "r:*")
        except (OSError, tarfile.TarError) as e:
            raise InvalidArgument(f"import {path}: not a tar archive: {e}") from None
        with tar:
            if "manifest.json" not in tar.getnames() and "index.json" in tar.getnames():
                return self._import_oci(tar, namespace, lease)
            manifest = self._json_member(tar, "manifest.json")
            if not isinstance(manifest, list):
                raise InvalidArgument("manifest.json: not a docker-archive manifest list")
            names = []
            for entry in manifest:
                names += self._import_entry(tar, entry, namespace, lease)
            return names

    # --- OCI image layout ------------------------------------------------------------

    def _blob(self, tar: tarfile.TarFile, desc, lease) -> str:
        """Ingest the blob a descriptor names, verified against its digest and size."""
        digest = check_descriptor(desc, "index")["digest"]
        if lease is not None:
            lease.blob(digest)
        if self.content.exists(digest):
            return digest
        m = self._member(tar, "blobs/sha256/" + digest[len("sha256:"):])
        if m.size != desc["size"]:
            raise FailedPrecondition(f"blob {digest}: {m.size} bytes, the descriptor says {desc['size']}")
        w = self.content.writer(digest, desc["size"])
        f = tar.extractfile(m)
        for chunk in iter(lambda: f.read(1 << 20), b""):
            w.write(chunk)
        return w.commit()

    def _import_oci(self, tar: tarfile.TarFile, namespace: str, lease) -> list:
        index = self._json_member(tar, "index.json")
        if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
            raise InvalidArgument("index.json: not an OCI image index")
        names = []
        for desc in index["manifests"]:
            target = self._import_oci_manifest(tar, desc, 0, lease)
            ref = ((desc.get("annotations") or {}).get("io.containerd.image.name")
                   or (desc.get("annotations") or {}).get("org.opencontainers.image.ref.name"))
            if ref and ("/" in ref or ":" in ref):
                name = normalize(ref)
                self.put(namespace, name, target)
                names.append(name)
            else:
                names.append(target["digest"])
        return names

    def _import_oci_manifest(self, tar, desc: dict, depth: int, lease) -> dict:
        if depth > 2:
            raise InvalidArgument("index: nested too deep (an index pointing at itself?)")
        if desc.get("size", 0) > MAX_JSON:
            raise InvalidArgument("index: manifest too large")
        digest = self._blob(tar, desc, lease)
        doc = json.loads(self.content.read(digest))
        media = desc.get("mediaType") or doc.get("mediaType")
        if "index" in (media or "") or "manifest.list" in (media or ""):
            for m in doc.get("manifests") or []:
                p = m.get("platform") or {}
                if p.get("os", "linux") == "linux" and p.get("architecture", "amd64") == "amd64":
                    return self._import_oci_manifest(tar, m, depth + 1, lease)
            raise NotFound("index: no linux/amd64 image in it")
        config_digest = self._blob(tar, doc["config"], lease)
        config = json.loads(self.content.read(config_digest))
        diff_ids = config.get("rootfs", {}).get("diff_ids") or []
        if len(diff_ids) != len(doc.get("layers") or []):
            raise InvalidArgument("manifest and config disagree on the number of layers")
        for layer, diff_id in zip(doc["layers"], diff_ids):
            self._blob(tar, layer, lease)
            self.check_diff_id(layer, diff_id)
        return {"mediaType": media or MANIFEST, "digest": digest, "size": desc["size"]}

    def check_diff_id(self, layer: dict, diff_id: str) -> None:
        with open(self.content.path(layer["digest"]), "rb") as f:
            src = HashingReader(decompressed(f, layer.get("mediaType", "")))
            src.drain()
        if src.digest() != diff_id:
            raise FailedPrecondition(f"layer {layer['digest']}: content does not match diff_id {diff_id}")

    @staticmethod
    def _member(tar: tarfile.TarFile, name) -> tarfile.TarInfo:
        if not isinstance(name, str):
            raise InvalidArgument(f"archive: invalid member name {name!r}")
        clean = posixpath.normpath(name)
        if clean.startswith(("/", "../")) or clean == "..":
            raise InvalidArgument(f"archive: member {name!r} points outside the archive")
        try:
            m = tar.getmember(clean)
        except KeyError:
            raise InvalidArgument(f"archive: {name!r} is missing") from None
        if not m.isfile():
            raise InvalidArgument(f"archive: {name!r} is not a regular file")
        return m

    def _json_member(self, tar: tarfile.TarFile, name: str):
        m = self._member(tar, name)
        if m.size > MAX_JSON:
            raise InvalidArgument(f"archive: {name} is too large ({m.size} bytes)")
        try:
            return json.loads(tar.extractfile(m).read())
        except ValueError as e:
            raise InvalidArgument(f"archive: {name}: invalid JSON: {e}") from None

    def _import_entry(self, tar: tarfile.TarFile, entry, namespace: str, lease) -> list:
        if not isinstance(entry, dict) or not isinstance(entry.get("Layers"), list):
            raise InvalidArgument("manifest.json: entry without Config and Layers")
        config_member = self._member(tar, entry.get("Config"))
        if config_member.size > MAX_JSON:
            raise InvalidArgument("archive: image config too large")
        config_raw = tar.extractfile(config_member).read()
        try:
            config = json.loads(config_raw)
            diff_ids = config["rootfs"]["diff_ids"]
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument("archive: image config without rootfs.diff_ids") from None
        if len(diff_ids) != len(entry["Layers"]):
            raise InvalidArgument("archive: config and manifest disagree on the number of layers")
        layers = []
        for layer_name, diff_id in zip(entry["Layers"], diff_ids):
            layers.append(self._import_layer(tar, self._member(tar, layer_name), diff_id, lease))
        config_digest = self.content.put(config_raw, lease=lease)
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST,
                    "config": {"mediaType": CONFIG, "digest": config_digest, "size": len(config_raw)},
                    "layers": layers}
        raw = json.dumps(manifest, separators=(",", ":")).encode()
        digest = self.content.put(raw, lease=lease)
        target = {"mediaType": MANIFEST, "digest": digest, "size": len(raw)}
        names = [normalize(t) for t in entry.get("RepoTags") or []]
        for name in names:
            self.put(namespace, name, target)
        return names or [digest]

    def _import_layer(self, tar: tarfile.TarFile, member: tarfile.TarInfo, diff_id: str, lease) -> dict:
        """Store the layer blob as it is, checking its uncompressed digest
        against the config's diff_id."""
        f = tar.extractfile(member)
        head = f.read(2)
        compressed = head == b"\x1f\x8b"
        w = self.content.writer(size=member.size, lease=lease)
        try:
            w.write(head)
            src = HashingReader(decompressed(_Tee(f, w, head), LAYER_GZIP if compressed else LAYER))
            src.drain()
        except BaseException:
            w.abort()
            raise
        if src.digest() != diff_id:
            w.abort()
            raise FailedPrecondition(f"layer {member.name}: content does not match diff_id {diff_id}")
        digest = w.commit()
        return {"mediaType": LAYER_GZIP if compressed else LAYER, "digest": digest,
                "size": member.size, "annotations": {"diff_id": diff_id}}


class _Tee:
    """Read from f (after `head`, already read) while writing to w."""

    def __init__(self, f, w, head: bytes):
        self.f = f
        self.w = w
        self.pending = head

    def read(self, n: int = -1) -> bytes:
        if self.pending:
            out, self.pending = self.pending, b""
            return out
        data = self.f.read(n)
        if data:
            self.w.write(data)
        return data
