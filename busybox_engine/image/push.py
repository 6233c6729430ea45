"""Push: an image's config and layers to a registry (those it has already
are skipped after a HEAD; a blob another repository of the same registry
has is mounted, not uploaded), 3 at a time, then its manifest under the tag."""
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from busybox_engine.image.distribution import Registry
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
    scope = f"repository:{repo}:pull,push"
    if mount_from:
        scope += f" repository:{mount_from}:pull"
    counts = {"uploaded": 0, "mounted": 0, "existing": 0}
    lock = threading.Lock()

    def count(what: str) -> None:
        with lock:
            counts[what] += 1

    def send(desc: dict) -> None:
        digest, size = desc["digest"], desc["size"]
        if registry.blob_exists(repo, digest, scope):
            count("existing")
            report({"digest": digest, "size": size, "status": "exists"})
            return
        location = registry.mount_blob(repo, digest, mount_from, scope) if mount_from else None
        if mount_from and location is None:
            count("mounted")
            report({"digest": digest, "size": size, "status": "mounted"})
            return
        location = location or registry.start_upload(repo, scope)
        path = images.content.path(digest)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            registry.upload_blob(location, digest, size, lambda off, n: os.pread(fd, n, off), scope, chunk)
        finally:
            os.close(fd)
        count("uploaded")
        report({"digest": digest, "size": size, "status": "pushed"})

    with ThreadPoolExecutor(CONCURRENT_BLOBS) as pool:
        for f in [pool.submit(send, d) for d in [doc["config"], *doc["layers"]]]:
            f.result()
    registry.put_manifest(repo, ref.tag or ref.digest or "latest", body,
                          target.get("mediaType") or doc.get("mediaType"))
    return dict(counts, digest=target["digest"])
