"""Log drivers and their options as dockerd checks them: json-file and
local (written in json-file's format here) rotate by max-size/max-file;
none keeps nothing."""
import re

from busybox_engine.rpc.errors import InvalidArgument

DRIVERS = {
    "json-file": {"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"},
    "local": {"max-size", "max-file", "compress"},
    "none": set(),
}
# Docker's local driver rotates unless told otherwise
LOCAL_DEFAULTS = {"max-size": "20m", "max-file": "5"}

_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp]?)(i?b?)$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """A size as Docker's units.FromHumanSize reads it: decimal units
    (10k = 10000, 1m = 1000000)."""
    m = _SIZE.match(str(text).strip())
    if not m:
        raise ValueError(f"invalid size: '{text}'")
    scale = 1000 ** " kmgtp".index(m.group(2).lower() or " ")
    return int(float(m.group(1)) * scale)


def resolve(log_config: dict, default_type: str, default_opts: dict) -> dict:
    """A container's LogConfig with the daemon's defaults filled in, its
    options checked for the driver; {"Type", "Config"}."""
    ltype = log_config.get("Type") or default_type
    opts = dict(log_config.get("Config") or {})
    if ltype == default_type:
        for k, v in (default_opts or {}).items():
            opts.setdefault(k, v)
    check(ltype, opts)
    return {"Type": ltype, "Config": opts}


def check(ltype: str, opts: dict) -> None:
    if ltype not in DRIVERS:
        raise InvalidArgument(f"logger: no log driver named '{ltype}' is registered")
    for k, v in opts.items():
        if k not in DRIVERS[ltype]:
            raise InvalidArgument(f"unknown log opt '{k}' for {ltype} log driver")
        if not isinstance(v, str):
            raise InvalidArgument(f"log opt '{k}': the value must be a string")
    rotation(ltype, opts)


def rotation(ltype: str, opts: dict) -> tuple:
    """(max_size bytes, 0 for never; max_files) of a driver's options."""
    if ltype == "local":
        opts = dict(LOCAL_DEFAULTS, **opts)
    size, files = 0, 1
    if opts.get("max-size"):
        try:
            size = parse_size(opts["max-size"])
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        if size <= 0 and ltype == "local":
            raise InvalidArgument("max-size must be a positive number")
    if opts.get("max-file"):
        try:
            files = int(opts["max-file"])
        except ValueError:
            raise InvalidArgument(f"invalid value for max-file: {opts['max-file']}") from None
        if files < 1:
            raise InvalidArgument("max-file cannot be less than 1")
        if files > 1 and not size:
            raise InvalidArgument("max-file can only be set if max-size is set")
    return size, files

