"""Pull: resolve a reference to one platform's manifest, fetch its config
and layers into the content store (3 layers at a time, like Docker), each
verified against its digest and size, and record the image last, so an
interrupted pull leaves only whole, verified blobs and no image."""
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from busybox_engine.image.content import check_descriptor
from busybox_engine.image.distribution import INDEX_TYPES, MANIFEST_TYPES, Registry
from busybox_engine.image.progress import ByteProgress
from busybox_engine.image.reference import Reference
from busybox_engine.image.snapshots import chain_ids
from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument, NotFound

CONCURRENT_LAYERS = 3
MAX_CONFIG = 8 << 20
LAYER_TYPES = ("application/vnd.docker.image.rootfs.diff.tar.gzip",
               "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
               "application/vnd.oci.image.layer.v1.tar+zstd")


class Download:
    """The content writer a blob downloads into, telling its progress by
    bytes and, given a sink (a Stream), handing it each chunk too (and
    restart() when the download starts over)."""

    def __init__(self, writer, progress: ByteProgress, sink=None):
        self.writer = writer
        self.progress = progress
        self.sink = sink

    def __getattr__(self, name):
        return getattr(self.writer, name)

    def write(self, data: bytes) -> None:
        self.writer.write(data)
        self.progress(self.writer.written)
        if self.sink:
            self.sink.feed(data)

    def restart(self) -> None:
        self.writer.restart()
        if self.sink:
            self.sink.restart()


class InFlight:
    """Work on one key (a blob, a layer) done by one pull at a time: a
    concurrent pull of the same content waits for it, then finds it done."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = {}

    def run(self, key: str, fn) -> None:
        with self.lock:
            event = self.running.get(key)
            mine = event is None
            if mine:
                event = self.running[key] = threading.Event()
        if not mine:
            event.wait()
            return fn()  # done by now (it checks first), or failed there: try here
        try:
            fn()
        finally:
            with self.lock:
                del self.running[key]
            event.set()


def parse_platform(text: str) -> tuple:
    """os/arch[/variant], as --platform takes it."""
    parts = (text or "linux/amd64").split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: want os/arch[/variant]")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def select_platform(manifests, platform: tuple) -> dict:
    if not isinstance(manifests, list):
        raise InvalidArgument("image index: no manifest list")
    os_, arch, variant = platform
    for desc in manifests:
        p = desc.get("platform") if isinstance(desc, dict) else None
        if isinstance(p, dict) and p.get("os") == os_ and p.get("architecture") == arch and (
                not variant or p.get("variant") == variant):
            return desc
    raise NotFound(f"no matching manifest for {'/'.join(x for x in platform if x)} in the manifest list entries")


def pull(images, ref: Reference, registry: Registry, namespace: str = "default",
         platform: tuple = ("linux", "amd64", ""), progress=None, unpack_layer=None,
         inflight: InFlight | None = None, lease=None) -> dict:
    """Pull ref into images' content store and record it; its target
    descriptor. progress(event: dict) is told of each blob as it is done;
    unpack_layer(layer, diff_id, chain_id, parent_chain_id, download) is
    called for each layer (layers unpack side by side, each into its own
    snapshot) and checks the diff_id as it unpacks; download is None when
    the blob is in already, else download(sink) fetches it, feeding sink
    (a Stream) the bytes as they come: unpack while downloading. lease (a
    leases.Lease) holds every blob and snapshot before it is looked for,
    so a collection that runs meanwhile leaves them alone."""
    report = progress or (lambda event: None)
    repo = ref.path
    body, media, digest = registry.manifest(repo, ref.object)
    for depth in range(4):  # an index of indexes is allowed, without end it is not
        if media not in INDEX_TYPES:
            break
        if depth == 3:
            raise InvalidArgument("image index nested too deep")
        desc = check_descriptor(select_platform(json.loads(body).get("manifests"), platform), "manifest")
        body, media, digest = registry.manifest(repo, desc["digest"])
        if len(body) != desc["size"]:
            raise FailedPrecondition(f"manifest {digest}: {len(body)} bytes, the index says {desc['size']}")
    if media not in MANIFEST_TYPES:
        raise InvalidArgument(f"unsupported manifest type {media!r}")
    doc = json.loads(body)
    config_desc = check_descriptor(doc.get("config"), "manifest config")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise InvalidArgument("manifest: no layer list")
    layers = [check_descriptor(layer, "manifest layer") for layer in layers]
    for layer in layers:
        if layer.get("mediaType") not in LAYER_TYPES:
            raise InvalidArgument(f"layer {layer['digest']}: unsupported media type {layer.get('mediaType')!r}")
    if config_desc["size"] > MAX_CONFIG:
        raise InvalidArgument(f"config {config_desc['digest']}: {config_desc['size']} bytes is too large")
    content = images.content
    if lease is not None:
        lease.blob(digest, config_desc["digest"], *(layer["digest"] for layer in layers))

    inflight = inflight or InFlight()

    def fetch(desc: dict) -> None:
        inflight.run("blob " + desc["digest"], lambda: fetch_once(desc))

    def fetch_once(desc: dict, sink=None) -> None:
        """The blob into the content store (if it is not there); sink, if
        given, is fed its bytes as they arrive (restart() if they start over)."""
        status = "exists"
        if not content.exists(desc["digest"]):
            w = content.writer(desc["digest"], desc["size"])
            try:
                registry.fetch_blob(repo, desc["digest"], Download(w, ByteProgress(report, desc, "downloading"), sink))
                w.commit()
            except BaseException:
                w.abort()
                raise
            status = "done"
        content.add_source(desc["digest"], ref.domain, repo)
        report({"digest": desc["digest"], "size": desc["size"], "status": status,
                "media": desc.get("mediaType", "")})

    fetch(config_desc)
    config = json.loads(content.read(config_desc["digest"]))
    if not isinstance(config, dict):
        raise InvalidArgument(f"config {config_desc['digest']}: not a JSON object")
    have = (config.get("os"), config.get("architecture"))
    if all(have) and have != platform[:2]:
        raise NotFound(f"image with reference {ref} was found but does not match the specified platform:"
                       f" wanted {'/'.join(x for x in platform if x)}, actual: {'/'.join(have)}")
    diff_ids = (config.get("rootfs") or {}).get("diff_ids")
    if not isinstance(diff_ids, list) or len(diff_ids) != len(layers):
        raise InvalidArgument("manifest and config disagree on the number of layers")
    chains = chain_ids(diff_ids)
    if lease is not None:
        lease.chain(*chains)

    def fetch_and_unpack(i: int) -> None:
        layer, parent = layers[i], chains[i - 1] if i else None

        def unpack(download=None):
            unpack_layer(layer, diff_ids[i], chains[i], parent, download)
        if content.exists(layer["digest"]):
            fetch(layer)
            inflight.run("snapshot " + chains[i], unpack)
            return
        # not here yet: the layer unpacks as its bytes arrive (both keys
        # taken in the order every pull takes them; an uncompressed layer's
        # digest is its chain's first ID, hence the kinds in the keys)
        inflight.run("blob " + layer["digest"], lambda: inflight.run(
            "snapshot " + chains[i], lambda: unpack(lambda sink: fetch_once(layer, sink))))

    with ThreadPoolExecutor(CONCURRENT_LAYERS) as pool:
        for f in [pool.submit(fetch_and_unpack, i) for i in range(len(layers))]:
            f.result()
    content.put(body, digest)
    target = {"mediaType": media, "digest": digest, "size": len(body)}
    images.put(namespace, str(ref), target)
    return target
