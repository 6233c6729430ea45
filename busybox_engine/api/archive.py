"""Files dockerd streams in and out: request bodies saved to its temporary
directory (no size limit, back-pressure from the disk), and the
docker-archive `docker import` makes of a root filesystem tar."""
import hashlib
import io
import json
import os
import secrets
import tarfile
import time

from busybox_engine.oci.defaults import PATH_ENV
from busybox_engine.rpc.errors import InvalidArgument


def tmp_path(data_root: str, what: str) -> str:
    d = os.path.join(data_root, "tmp")
    os.makedirs(d, mode=0o700, exist_ok=True)
    return os.path.join(d, f"{what}-{secrets.token_hex(8)}")


async def save_body(req, path: str) -> int:
    """The request body into path; its size."""
    size = 0
    with open(path, "wb") as f:
        while True:
            data = await req.read()
            if not data:
                return size
            f.write(data)
            size += len(data)


def discard(*paths: str) -> None:
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


async def send_file(req, path: str, content_type: str = "application/x-tar", headers=None) -> None:
    """path as the chunked response to req."""
    w = await req.stream(200, content_type, headers)
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            await w.write(chunk)
    await w.end()


def header_json(value: str | None) -> dict:
    """A header of base64url JSON (X-Registry-Auth, X-Registry-Config) as
    an object: {} when absent or unreadable."""
    if not value:
        return {}
    import base64
    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def registry_auth(req) -> tuple:
    """(user, password) from the X-Registry-Auth header, empty without one."""
    creds = header_json(req.headers.get("x-registry-auth"))
    return creds.get("username") or "", creds.get("password") or ""


def uncompressed(path: str) -> str:
    """path itself for a plain tar, else the decompressed copy beside it."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic[:2] == b"\x1f\x8b":
        try:
            from isal import igzip as gz
        except ImportError:
            import gzip as gz
        opener = gz.open
    elif magic[:3] == b"BZh":
        import bz2
        opener = bz2.open
    elif magic[:6] == b"\xfd7zXZ\x00":
        import lzma
        opener = lzma.open
    else:
        return path
    out = path + ".tar"
    try:
        with opener(path, "rb") as src, open(out, "wb") as dst:
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                dst.write(chunk)
    except (OSError, EOFError, ValueError) as e:
        raise InvalidArgument(f"import: cannot decompress: {e}") from None
    return out


# what `--change` may set (Docker's validCommitCommands)
CHANGE_COMMANDS = ("cmd", "entrypoint", "env", "expose", "healthcheck", "label", "onbuild", "stopsignal",
                   "user", "volume", "workdir")


def apply_changes(changes: list, base: dict | None = None) -> dict:
    """`docker import/commit --change` Dockerfile instructions applied to
    an image config (base, or a fresh one), by the builder's own rules."""
    import copy
    from busybox_engine.build import instructions as I
    from busybox_engine.build.dockerfile import ParseError, parse
    cfg = copy.deepcopy(base) if base is not None else {"Env": [PATH_ENV]}
    try:
        df = parse("\n".join(changes))
    except ParseError as e:
        raise InvalidArgument(str(e)) from None
    for ins in df.instructions:
        if ins.cmd not in CHANGE_COMMANDS:
            raise InvalidArgument(f"{ins.cmd} is not a valid change command")
    st = I.Stage(cfg, df.escape, {}, {})
    for ins in df.instructions:
        try:
            I.apply(st, ins)
        except I.BuildError as e:
            raise InvalidArgument(str(e)) from None
    return st.config


def import_archive(layer: str, out: str, tag: str | None, changes: list, message: str = "") -> str:
    """A one-layer docker-archive at out of the root filesystem tar `layer`."""
    try:
        with tarfile.open(layer, "r:") as t:
            t.next()
    except tarfile.TarError as e:
        raise InvalidArgument(f"import: not a tar archive: {e}") from None
    h = hashlib.sha256()
    with open(layer, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
    diff = "sha256:" + h.hexdigest()
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() % 1 * 1e9):09d}Z"
    config = {"architecture": "amd64", "os": "linux", "created": now,
              "config": apply_changes(changes), "rootfs": {"type": "layers", "diff_ids": [diff]},
              "history": [{"created": now, "created_by": "", "comment": message or "Imported from -"}]}
    raw = json.dumps(config).encode()
    config_name = hashlib.sha256(raw).hexdigest() + ".json"
    layer_name = f"{diff[7:]}/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [tag] if tag else None, "Layers": [layer_name]}]
    with tarfile.open(out, "w") as tar:
        info = tarfile.TarInfo(config_name)
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
        info = tarfile.TarInfo(layer_name)
        info.size = os.path.getsize(layer)
        with open(layer, "rb") as f:
            tar.addfile(info, f)
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return "sha256:" + hashlib.sha256(raw).hexdigest()
