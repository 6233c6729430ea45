"""Image names as Docker normalises them (the full grammar comes with the
registry work): busybox -> docker.io/library/busybox:latest."""
from busybox_engine.rpc.errors import InvalidArgument

_ALLOWED = set("abcdefghijklmnopqrstuvwxyz0123456789._-/:@")


def normalize(name: str) -> str:
    if not isinstance(name, str) or not name or not set(name) <= _ALLOWED | set("ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        raise InvalidArgument(f"invalid reference format: {name!r}")
    first, _, rest = name.partition("/")
    if not rest:
        name = f"docker.io/library/{name}"
    elif not ("." in first or ":" in first or first == "localhost"):
        name = f"docker.io/{name}"
    last = name.rsplit("/", 1)[1]
    if "@" not in last and ":" not in last:
        name += ":latest"
    if name != name.lower() and name.split("/", 1)[1] != name.split("/", 1)[1].lower():
        raise InvalidArgument(f"invalid reference format: repository name must be lowercase: {name!r}")
    return name
