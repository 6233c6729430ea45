"""Shape checks of API bodies, so a wrong type is a 400 naming the field
(as Go's JSON decoding gives Docker) and never a 500 deep in a handler."""
from busybox_engine.rpc.errors import InvalidArgument

STR, INT, BOOL, LIST, DICT, STRLIST = "string", "int", "bool", "list", "dict", "strlist"

CONFIG = {
    "Hostname": STR, "Domainname": STR, "User": STR, "AttachStdin": BOOL, "AttachStdout": BOOL,
    "AttachStderr": BOOL, "ExposedPorts": DICT, "Tty": BOOL, "OpenStdin": BOOL, "StdinOnce": BOOL,
    "Env": STRLIST, "Cmd": STRLIST, "Healthcheck": DICT, "ArgsEscaped": BOOL, "Image": STR,
    "Volumes": DICT, "WorkingDir": STR, "Entrypoint": STRLIST, "NetworkDisabled": BOOL,
    "MacAddress": STR, "OnBuild": STRLIST, "Labels": DICT, "StopSignal": STR, "StopTimeout": INT,
    "Shell": STRLIST,
}
HOST_CONFIG = {
    "Binds": STRLIST, "ContainerIDFile": STR, "LogConfig": DICT, "NetworkMode": STR,
    "PortBindings": DICT, "RestartPolicy": DICT, "AutoRemove": BOOL, "VolumeDriver": STR,
    "VolumesFrom": STRLIST, "CapAdd": STRLIST, "CapDrop": STRLIST, "CgroupnsMode": STR,
    "Dns": STRLIST, "DnsOptions": STRLIST, "DnsSearch": STRLIST, "ExtraHosts": STRLIST,
    "GroupAdd": STRLIST, "IpcMode": STR, "Cgroup": STR, "Links": STRLIST, "OomScoreAdj": INT,
    "PidMode": STR, "Privileged": BOOL, "PublishAllPorts": BOOL, "ReadonlyRootfs": BOOL,
    "SecurityOpt": STRLIST, "StorageOpt": DICT, "Tmpfs": DICT, "UTSMode": STR, "UsernsMode": STR,
    "ShmSize": INT, "Sysctls": DICT, "Runtime": STR, "Isolation": STR, "CpuShares": INT,
    "Memory": INT, "NanoCpus": INT, "CgroupParent": STR, "BlkioWeight": INT, "CpuPeriod": INT,
    "CpuQuota": INT, "CpuRealtimePeriod": INT, "CpuRealtimeRuntime": INT, "CpusetCpus": STR,
    "CpusetMems": STR, "Devices": LIST, "DeviceCgroupRules": STRLIST, "DeviceRequests": LIST,
    "KernelMemory": INT, "KernelMemoryTCP": INT, "MemoryReservation": INT, "MemorySwap": INT,
    "MemorySwappiness": INT, "OomKillDisable": BOOL, "PidsLimit": INT, "Ulimits": LIST,
    "CpuCount": INT, "CpuPercent": INT, "IOMaximumIOps": INT, "IOMaximumBandwidth": INT,
    "Mounts": LIST, "MaskedPaths": STRLIST, "ReadonlyPaths": STRLIST, "Init": BOOL,
    "ConsoleSize": LIST, "Annotations": DICT, "BlkioWeightDevice": LIST,
    "BlkioDeviceReadBps": LIST, "BlkioDeviceWriteBps": LIST, "BlkioDeviceReadIOps": LIST,
    "BlkioDeviceWriteIOps": LIST,
}
_PY = {STR: str, INT: int, BOOL: bool, LIST: list, DICT: dict, STRLIST: list}
_GO = {STR: "string", INT: "int64", BOOL: "bool", LIST: "[]interface {}", DICT: "map[string]interface {}",
       STRLIST: "[]string"}


def check_fields(obj: dict, schema: dict, where: str) -> dict:
    out = {}
    for key, value in obj.items():
        kind = schema.get(key)
        if kind is None or value is None:
            out[key] = value
            continue
        ok = isinstance(value, _PY[kind]) and not (kind == INT and isinstance(value, bool))
        if kind == INT and isinstance(value, float) and value.is_integer():
            value, ok = int(value), True
        if kind == STRLIST and isinstance(value, str):
            value, ok = [value], True  # Docker's StrSlice takes a string too
        if ok and kind == STRLIST and not all(isinstance(v, str) for v in value):
            ok = False
        if not ok:
            raise InvalidArgument(f"json: cannot unmarshal {_json_type(value)} into Go struct "
                                  f"field {where}.{key} of type {_GO[kind]}")
        out[key] = value
    return out


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def check_create(body) -> tuple:
    """(Config, HostConfig) of a POST /containers/create body."""
    if body is None:
        raise InvalidArgument("config cannot be empty in order to create a container")
    if not isinstance(body, dict):
        raise InvalidArgument(f"json: cannot unmarshal {_json_type(body)} into Go value of "
                              "type container.ContainerConfigWrapper")
    host = body.get("HostConfig") or {}
    if not isinstance(host, dict):
        raise InvalidArgument(f"json: cannot unmarshal {_json_type(host)} into Go struct field "
                              "ContainerConfigWrapper.HostConfig of type container.HostConfig")
    config = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
    config = check_fields(config, CONFIG, "Config")
    host = check_fields(host, HOST_CONFIG, "HostConfig")
    if not config.get("Image"):
        raise InvalidArgument("Config.Image: an image is required")
    for key in ("Labels", "Tmpfs", "Sysctls"):
        d = config.get(key) if key == "Labels" else host.get(key)
        if d and not all(isinstance(k, str) and isinstance(v, str) for k, v in d.items()):
            raise InvalidArgument(f"{key}: keys and values must be strings")
    restart = host.get("RestartPolicy") or {}
    if not isinstance(restart, dict):
        raise InvalidArgument("RestartPolicy must be an object")
    host["RestartPolicy"] = check_restart_policy(restart)
    if host.get("AutoRemove") and host["RestartPolicy"]["Name"] != "no":
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    if host.get("Memory") and not host.get("MemorySwap"):
        host["MemorySwap"] = 2 * host["Memory"]  # as Docker records it: swap as much as memory
    log = host.get("LogConfig") or {}
    if not isinstance(log.get("Type", ""), str) or not isinstance(log.get("Config") or {}, dict):
        raise InvalidArgument("LogConfig: Type must be a string and Config a map")
    # the daemon's default driver fills an empty Type (see logopts.resolve)
    host["LogConfig"] = {"Type": log.get("Type") or "", "Config": log.get("Config") or {}}
    host.setdefault("NetworkMode", "default")
    if not host["NetworkMode"]:
        host["NetworkMode"] = "default"
    for key in ("PidMode", "IpcMode"):
        mode = host.get(key) or ""
        if mode and mode not in ("host", "private", "shareable", "none") and not mode.startswith("container:"):
            raise InvalidArgument(f"invalid {key}: {mode}")
    if host.get("Memory") and 0 < host["Memory"] < 6 * 1024 * 1024:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if host.get("NanoCpus") and (host.get("CpuQuota") or host.get("CpuPeriod")):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    return config, host


def check_restart_policy(restart: dict) -> dict:
    """A RestartPolicy checked, in Docker's words; {"Name", "MaximumRetryCount"}."""
    name = restart.get("Name") or "no"
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise InvalidArgument(f"invalid restart policy '{name}'")
    retries = restart.get("MaximumRetryCount") or 0
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if retries and name != "on-failure":
        raise InvalidArgument("invalid restart policy: maximum retry count can only be used "
                              "with 'on-failure'")
    return {"Name": name, "MaximumRetryCount": retries}
