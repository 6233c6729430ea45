"""Push: an image's config and layers to a registry (those it has already
are skipped after a HEAD; a blob another repository of the same registry
has, the one named or the one it was pulled from, is mounted, not
uploaded), 3 at a time, then its manifest under the tag."""
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from busybox_engine.image.distribution import Registry
from busybox_engine.image.progress import ByteProgress
from busybox_engine.image.reference import Reference
from busybox_engine.rpc.errors import InvalidArgument

CONCURRENT_BLOBS = 3
CHUNK = 16 << 20  # bigger blobs go up in PATCHes of this size


def push(images, local: str, ref: Reference, registry: Registry, namespace: str = "default",
         mount_from: str = "", progress=None, chunk: int = CHUNK) -> dict:
    """Push local image `local` as ref; {"digest", "uploaded", "mounted", "existing"}."""
    report = progress or (lambda event: None)
    target = images.get(local, namespace)["target"]
    body = images.content.read(target["digest"])
    doc = json.loads(body)
    if "layers" not in doc or "config" not in doc:
        raise InvalidArgument(f"{local}: only single-platform images can be pushed")
    repo = ref.path
    blobs = [doc["config"], *doc["layers"]]

    def mount_sources(digest: str) -> list:
        """Repositories of this registry to mount a blob from: the one asked
        for, else those it was pulled from (at most 3 are tried)."""
        if mount_from:
            return [mount_from]
        found = images.content.sources(digest).get(ref.domain, [])
        return [r for r in found if r != repo and isinstance(r, str)][:3]
    sources = {d["digest"]: mount_sources(d["digest"]) for d in blobs}
    scope = " ".join([f"repository:{repo}:pull,push"] +
                     [f"repository:{r}:pull" for r in sorted({r for rs in sources.values() for r in rs})])
    counts = {"uploaded": 0, "mounted": 0, "existing": 0}
    lock = threading.Lock()

    def count(what: str) -> None:
        with lock:
            counts[what] += 1

    def send(desc: dict) -> None:
        digest, size = desc["digest"], desc["size"]
        if registry.blob_exists(repo, digest, scope):
            count("existing")
            report({"digest": digest, "size": size, "status": "exists", "media": desc.get("mediaType", "")})
            return
        location = None
        for source in sources[digest]:
            location = registry.mount_blob(repo, digest, source, scope)
            if location is None:
                count("mounted")
                report({"digest": digest, "size": size, "status": "mounted", "from": source,
                        "media": desc.get("mediaType", "")})
                images.content.add_source(digest, ref.domain, repo)
                return
        location = location or registry.start_upload(repo, scope)
        path = images.content.path(digest)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        told = ByteProgress(report, desc, "pushing")

        def read_at(offset: int, n: int) -> bytes:
            told(offset)
            return os.pread(fd, n, offset)
        try:
            registry.upload_blob(location, digest, size, read_at, scope, chunk)
        finally:
            os.close(fd)
        images.content.add_source(digest, ref.domain, repo)
        count("uploaded")
        report({"digest": digest, "size": size, "status": "pushed", "media": desc.get("mediaType", "")})

    with ThreadPoolExecutor(CONCURRENT_BLOBS) as pool:
        for f in [pool.submit(send, d) for d in blobs]:
            f.result()
    registry.put_manifest(repo, ref.tag or ref.digest or "latest", body,
                          target.get("mediaType") or doc.get("mediaType"))
    return dict(counts, digest=target["digest"], size=len(body))
