"""`docker create` / `docker run` flags, and the Engine API body they make
(Config, HostConfig, NetworkingConfig) as the docker CLI builds it."""
import os

from busybox_engine.cli import fastjson

from busybox_engine.cli.flags import Flag, ReportError, UsageError, kv_map as _kv, parse_bytes

CREATE_FLAGS = [
    Flag("add-host", "list", help="Add a custom host-to-IP mapping (host:ip)", check=lambda v: _extra_host(v)),
    Flag("attach", "list", short="a", help="Attach to STDIN, STDOUT or STDERR", check=lambda v: _attach(v)),
    Flag("blkio-weight", "uint16", help="Block IO (relative weight), between 10 and 1000, or 0 to disable "
                                        "(default 0)"),
    Flag("blkio-weight-device", "list", help="Block IO weight (relative device weight)", shown_default="[]",
         check=lambda v: _weight_device(v)),
    Flag("cap-add", "list", help="Add Linux capabilities"),
    Flag("cap-drop", "list", help="Drop Linux capabilities"),
    Flag("cgroup-parent", "string", help="Optional parent cgroup for the container"),
    Flag("cgroupns", "string", help="Cgroup namespace to use (host|private)\n"
                                    "'host':    Run the container in the Docker host's cgroup namespace\n"
                                    "'private': Run the container in its own private cgroup namespace\n"
                                    "'':        Use the cgroup namespace as configured by the\n"
                                    "           default-cgroupns-mode option on the daemon (default)"),
    Flag("cidfile", "string", help="Write the container ID to the file"),
    Flag("cpu-period", "int", help="Limit CPU CFS (Completely Fair Scheduler) period"),
    Flag("cpu-quota", "int", help="Limit CPU CFS (Completely Fair Scheduler) quota"),
    Flag("cpu-rt-period", "int", help="Limit CPU real-time period in microseconds"),
    Flag("cpu-rt-runtime", "int", help="Limit CPU real-time runtime in microseconds"),
    Flag("cpu-shares", "int", short="c", help="CPU shares (relative weight)"),
    Flag("cpus", "decimal", help="Number of CPUs"),
    Flag("cpuset-cpus", "string", help="CPUs in which to allow execution (0-3, 0,1)"),
    Flag("cpuset-mems", "string", help="MEMs in which to allow execution (0-3, 0,1)"),
    Flag("device", "list", help="Add a host device to the container"),
    Flag("device-cgroup-rule", "list", help="Add a rule to the cgroup allowed devices list",
         check=lambda v: _cgroup_rule(v)),
    Flag("device-read-bps", "list", help="Limit read rate (bytes per second) from a device", shown_default="[]",
         check=lambda v: _throttle(v, True)),
    Flag("device-read-iops", "list", help="Limit read rate (IO per second) from a device", shown_default="[]",
         check=lambda v: _throttle(v, False)),
    Flag("device-write-bps", "list", help="Limit write rate (bytes per second) to a device", shown_default="[]",
         check=lambda v: _throttle(v, True)),
    Flag("device-write-iops", "list", help="Limit write rate (IO per second) to a device", shown_default="[]",
         check=lambda v: _throttle(v, False)),
    Flag("disable-content-trust", default=True, help="Skip image verification"),
    Flag("dns", "list", help="Set custom DNS servers"),
    Flag("dns-option", "list", help="Set DNS options"),
    Flag("dns-search", "list", help="Set custom DNS search domains"),
    Flag("domainname", "string", help="Container NIS domain name"),
    Flag("entrypoint", "string", help="Overwrite the default ENTRYPOINT of the image"),
    Flag("env", "list", short="e", help="Set environment variables"),
    Flag("env-file", "list", help="Read in a file of environment variables"),
    Flag("expose", "list", help="Expose a port or a range of ports"),
    Flag("gpus", "list", tname="gpu-request", help="GPU devices to add to the container ('all' to pass all GPUs)",
         check=lambda v: parse_gpus(v)),
    Flag("group-add", "list", help="Add additional groups to join"),
    Flag("health-cmd", "string", help="Command to run to check health"),
    Flag("health-interval", "duration", help="Time between running the check (ms|s|m|h) (default 0s)"),
    Flag("health-retries", "int", help="Consecutive failures needed to report unhealthy"),
    Flag("health-start-period", "duration",
         help="Start period for the container to initialize before starting health-retries countdown "
              "(ms|s|m|h) (default 0s)"),
    Flag("health-timeout", "duration", help="Maximum time to allow one check to run (ms|s|m|h) (default 0s)"),
    Flag("help", help="Print usage"),
    Flag("hostname", "string", short="h", help="Container host name"),
    Flag("init", help="Run an init inside the container that forwards signals and reaps processes"),
    Flag("interactive", short="i", help="Keep STDIN open even if not attached"),
    Flag("ip", "string", help="IPv4 address (e.g., 172.30.100.104)"),
    Flag("ip6", "string", help="IPv6 address (e.g., 2001:db8::33)"),
    Flag("ipc", "string", help="IPC mode to use"),
    Flag("isolation", "string", help="Container isolation technology"),
    Flag("kernel-memory", "bytes", help="Kernel memory limit"),
    Flag("label", "list", short="l", help="Set meta data on a container"),
    Flag("label-file", "list", help="Read in a line delimited file of labels"),
    Flag("link", "list", help="Add link to another container", check=lambda v: parse_link(v)),
    Flag("link-local-ip", "list", help="Container IPv4/IPv6 link-local addresses"),
    Flag("log-driver", "string", help="Logging driver for the container"),
    Flag("log-opt", "list", help="Log driver options"),
    Flag("mac-address", "string", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    Flag("memory", "bytes", short="m", help="Memory limit"),
    Flag("memory-reservation", "bytes", help="Memory soft limit"),
    Flag("memory-swap", "swapbytes", help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    Flag("memory-swappiness", "int", default=-1, help="Tune container memory swappiness (0 to 100)",
         shown_default="-1"),
    Flag("mount", "list", tname="mount", help="Attach a filesystem mount to the container",
         check=lambda v: parse_mount(v)),
    Flag("name", "string", help="Assign a name to the container"),
    Flag("network", "list", tname="network", help="Connect a container to a network"),
    Flag("network-alias", "list", help="Add network-scoped alias for the container"),
    Flag("no-healthcheck", help="Disable any container-specified HEALTHCHECK"),
    Flag("oom-kill-disable", help="Disable OOM Killer"),
    Flag("oom-score-adj", "int", help="Tune host's OOM preferences (-1000 to 1000)"),
    Flag("pid", "string", help="PID namespace to use"),
    Flag("pids-limit", "int", help="Tune container pids limit (set -1 for unlimited)"),
    Flag("platform", "string", help="Set platform if server is multi-platform capable"),
    Flag("privileged", help="Give extended privileges to this container"),
    Flag("publish", "list", short="p", help="Publish a container's port(s) to the host"),
    Flag("publish-all", short="P", help="Publish all exposed ports to random ports"),
    Flag("read-only", help="Mount the container's root filesystem as read only"),
    Flag("restart", "string", default="no", help="Restart policy to apply when a container exits"),
    Flag("rm", help="Automatically remove the container when it exits"),
    Flag("runtime", "string", help="Runtime to use for this container"),
    Flag("security-opt", "list", help="Security Options"),
    Flag("shm-size", "bytes", help="Size of /dev/shm"),
    Flag("stop-signal", "string", default="SIGTERM", help="Signal to stop a container"),
    Flag("stop-timeout", "int", help="Timeout (in seconds) to stop a container"),
    Flag("storage-opt", "list", help="Storage driver options for the container"),
    Flag("sysctl", "list", tname="map", shown_default="map[]", help="Sysctl options",
         check=lambda v: _sysctl(v)),
    Flag("tmpfs", "list", help="Mount a tmpfs directory"),
    Flag("tty", short="t", help="Allocate a pseudo-TTY"),
    Flag("ulimit", "list", tname="ulimit", shown_default="[]", help="Ulimit options",
         check=lambda v: parse_ulimit(v)),
    Flag("user", "string", short="u", help="Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("userns", "string", help="User namespace to use"),
    Flag("uts", "string", help="UTS namespace to use"),
    Flag("volume", "list", short="v", help="Bind mount a volume"),
    Flag("volume-driver", "string", help="Optional volume driver for the container"),
    Flag("volumes-from", "list", help="Mount volumes from the specified container(s)"),
    Flag("workdir", "string", short="w", help="Working directory inside the container"),
]


def _pull(verb: str) -> Flag:
    return Flag("pull", "string", default="missing", help=f'Pull image before {verb} ("always"|"missing"|"never")')


CREATE_ONLY_FLAGS = [_pull("creating")]
RUN_ONLY_FLAGS = [
    _pull("running"),
    Flag("detach", short="d", help="Run container in background and print container ID"),
    Flag("detach-keys", "string", help="Override the key sequence for detaching a container"),
    Flag("sig-proxy", default=True, help="Proxy received signals to the process"),
]


def _bad(flag: str, value: str, why: str) -> UsageError:
    return UsageError(f'invalid argument "{value}" for "{flag}" flag: {why}')


def _env_value(e: str) -> str:
    if "=" in e:
        if not e.split("=", 1)[0]:
            raise _bad("-e, --env", e, f"invalid environment variable: {e}")
        return e
    if e in os.environ:
        return f"{e}={os.environ[e]}"
    return e


def _read_kv_file(path: str, what: str) -> list:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ReportError(f"open {path}: {(e.strerror or str(e)).lower()}") from None
    out = []
    for line in lines:
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        if " " in line.split("=", 1)[0].strip() or "\t" in line.split("=", 1)[0].strip():
            raise ReportError(f"{what} '{line.split('=', 1)[0]}' contains whitespaces")
        out.append(line)
    return out


def parse_ports(specs: list) -> tuple:
    """-p specs: ({"80/tcp": {}}, {"80/tcp": [{"HostIp", "HostPort"}]})."""
    exposed, bindings = {}, {}
    for spec in specs:
        proto = "tcp"
        if "/" in spec:
            spec, proto = spec.rsplit("/", 1)
            if proto not in ("tcp", "udp", "sctp"):
                raise ReportError(f"Invalid proto: {proto}")
        ip, host, cont = "", "", spec
        if spec.startswith("["):
            end = spec.find("]")
            ip = spec[1:end]
            rest = spec[end + 2:]
            host, _, cont = rest.rpartition(":")
        else:
            parts = spec.split(":")
            if len(parts) == 2:
                host, cont = parts
            elif len(parts) == 3:
                ip, host, cont = parts
            elif len(parts) > 3:
                raise ReportError(f"Invalid ip address {':'.join(parts[:-2])}: address {':'.join(parts[:-2])}:: "
                                  "too many colons in address")
        cs, ce = _port_range(cont, "containerPort")
        if host:
            hs, he = _port_range(host, "hostPort")
            if he - hs != ce - cs and he != hs:
                raise ReportError(f"Invalid ranges specified for container and host Ports: {cont} and {host}")
        for i in range(ce - cs + 1):
            port = f"{cs + i}/{proto}"
            exposed[port] = {}
            hp = ""
            if host:
                hp = str(hs + i) if he != hs else (host if ce == cs else f"{hs}")
                if he != hs and ce == cs:
                    hp = host
            bindings.setdefault(port, []).append({"HostIp": ip, "HostPort": hp})
    return exposed, bindings


def _port_range(text: str, what: str) -> tuple:
    import re
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", text)
    if not m:
        raise ReportError(f"Invalid {what}: {text}")
    a = int(m.group(1))
    b = int(m.group(2) or a)
    if b < a or b > 65535:
        raise ReportError(f"Invalid range format for --expose: {text}" if what == "expose" else
                          f"Invalid {what}: {text}")
    return a, b


def parse_mount(text: str) -> dict:
    """--mount type=...,source=...,target=...: a Mount as the 20.10 CLI
    builds it (its omitempty fields left out), errors in its words."""
    from busybox_engine.cli.flags import _parse_bool
    m = {"Type": "volume"}
    vol = bind = tmpfs = None

    def volume_options():
        nonlocal vol
        if vol is None:
            vol = {"Labels": {}, "DriverConfig": {}}
        return vol

    def bind_options():
        nonlocal bind
        bind = {} if bind is None else bind
        return bind

    def tmpfs_options():
        nonlocal tmpfs
        tmpfs = {} if tmpfs is None else tmpfs
        return tmpfs

    def flag(key, value):
        try:
            return _parse_bool(value)
        except ValueError:
            raise _bad("--mount", text, f"invalid value for {key}: {value}") from None

    for field in _csv(text):
        key, eq, value = field.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                m["ReadOnly"] = True
                continue
            if key == "volume-nocopy":
                volume_options()["NoCopy"] = True
                continue
            if key == "bind-nonrecursive":
                bind_options()["NonRecursive"] = True
                continue
            raise _bad("--mount", text, f"invalid field '{field}' must be a key=value pair")
        if key == "type":
            m["Type"] = value.lower()
        elif key in ("source", "src"):
            m["Source"] = os.path.abspath(value) if value == "." or value.startswith("./") else value
        elif key in ("target", "dst", "destination"):
            m["Target"] = value
        elif key in ("readonly", "ro"):
            m["ReadOnly"] = flag(key, value)
        elif key == "consistency":
            m["Consistency"] = value.lower()
        elif key == "bind-propagation":
            bind_options()["Propagation"] = value.lower()
        elif key == "bind-nonrecursive":
            bind_options()["NonRecursive"] = flag(key, value)
        elif key == "volume-nocopy":
            try:
                volume_options()["NoCopy"] = _parse_bool(value)
            except ValueError:
                raise _bad("--mount", text, f"invalid value for volume-nocopy: {value}") from None
        elif key == "volume-label":
            k, _, val = value.partition("=")
            volume_options()["Labels"][k] = val
        elif key == "volume-driver":
            volume_options()["DriverConfig"]["Name"] = value
        elif key == "volume-opt":
            k, _, val = value.partition("=")
            volume_options()["DriverConfig"].setdefault("Options", {})[k] = val
        elif key == "tmpfs-size":
            try:
                tmpfs_options()["SizeBytes"] = parse_bytes(value)
            except ValueError:
                raise _bad("--mount", text, f"invalid value for {key}: {value}") from None
        elif key == "tmpfs-mode":
            try:
                mode = int(value, 8)
            except ValueError:
                mode = -1
            if not 0 <= mode < 2 ** 32:
                raise _bad("--mount", text, f"invalid value for {key}: {value}")
            tmpfs_options()["Mode"] = mode
        else:
            raise _bad("--mount", text, f"unexpected key '{key}' in '{field}'")
    if not m["Type"]:
        raise _bad("--mount", text, "type is required")
    if not m.get("Target"):
        raise _bad("--mount", text, "target is required")
    for opts, kind, what in ((vol, "volume", "volume-*"), (bind, "bind", "bind-*"), (tmpfs, "tmpfs", "tmpfs-*")):
        if opts is not None and m["Type"] != kind:
            raise _bad("--mount", text, f"cannot mix '{what}' options with mount type '{m['Type']}'")
    # Go's omitempty: false, zero and empty values are not sent
    out = {k: val for k, val in m.items() if val}
    if bind is not None:
        out["BindOptions"] = {k: val for k, val in bind.items() if val}
    if vol is not None:
        out["VolumeOptions"] = {k: val for k, val in vol.items() if val or k == "DriverConfig"}
    if tmpfs is not None:
        out["TmpfsOptions"] = {k: val for k, val in tmpfs.items() if val}
    return out


def _csv(text: str) -> list:
    import csv
    return next(csv.reader([text])) if text else []


def _extra_host(text: str) -> None:
    from busybox_engine.util.extrahosts import check
    check(text)


def _attach(text: str) -> None:
    if text.lower() not in ("stdin", "stdout", "stderr"):
        raise ValueError("valid streams are STDIN, STDOUT and STDERR")


def _device_value(text: str) -> tuple:
    path, sep, value = text.partition(":")
    if not sep:
        raise ValueError(f"bad format: {text}")
    if not path.startswith("/dev/"):
        raise ValueError(f"bad format for device path: {text}")
    return path, value


def _weight_device(text: str) -> dict:
    path, value = _device_value(text)
    if not (value.isascii() and value.isdigit()) or int(value) > 0xFFFF or 0 < int(value) < 10 \
            or int(value) > 1000:
        raise ValueError(f"invalid weight for device: {text}")
    return {"Path": path, "Weight": int(value)}


def _throttle(text: str, bytes_rate: bool) -> dict:
    path, value = _device_value(text)
    if bytes_rate:
        try:
            rate = parse_bytes(value)
        except ValueError:
            rate = -1
        if rate < 0:
            raise ValueError(f"invalid rate for device: {text}. The correct format is "
                             "<device-path>:<number>[<unit>]. Number must be a positive integer. "
                             "Unit is optional and can be kb, mb, or gb")
    else:
        if not (value.isascii() and value.isdigit()):
            raise ValueError(f"invalid rate for device: {text}. The correct format is "
                             "<device-path>:<number>. Number must be a positive integer")
        rate = int(value)
    return {"Path": path, "Rate": rate}


def _cgroup_rule(text: str) -> str:
    import re
    if not re.fullmatch(r"[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}", text):
        raise ValueError(f"invalid device cgroup format '{text}'")
    return text


SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
           "kernel.shmmni", "kernel.shm_rmid_forced"}


def _sysctl(text: str) -> str:
    """The namespaced sysctls Docker lets a container set."""
    parts = text.split("=")
    if len(parts) >= 2 and (parts[0] in SYSCTLS or parts[0].startswith(("net.", "fs.mqueue."))):
        return text
    raise ValueError(f"sysctl '{text}' is not whitelisted")


def parse_link(text: str) -> tuple:
    """--link NAME[:ALIAS] -> (name, alias)."""
    if text == "":
        raise ValueError("empty string specified for links")
    parts = text.split(":")
    if len(parts) > 2:
        raise ValueError(f"bad format for links: {text}")
    if len(parts) == 1:
        return text, text
    if parts[0].startswith("/"):
        return parts[0][1:], parts[1].rsplit("/", 1)[-1]
    return parts[0], parts[1]


def parse_gpus(text: str) -> dict:
    """--gpus all|N|device=...,capabilities=...: one DeviceRequest."""
    def count(v):
        if v == "all":
            return -1
        try:
            return int(v)
        except ValueError:
            raise ValueError(f'count must be an integer: strconv.Atoi: parsing "{v}": invalid syntax') from None
    req = {"Driver": "", "Count": 0, "DeviceIDs": None, "Capabilities": None, "Options": {}}
    seen = set()
    for field in _csv(text):
        key, eq, value = field.partition("=")
        if key in seen:
            raise ValueError(f"gpu request key '{key}' can be specified only once")
        seen.add(key)
        if not eq:
            seen.add("count")
            req["Count"] = count(key)
        elif key == "driver":
            req["Driver"] = value
        elif key == "count":
            req["Count"] = count(value)
        elif key == "device":
            req["DeviceIDs"] = value.split(",")
        elif key == "capabilities":
            req["Capabilities"] = [value.split(",") + ["gpu"]]
        elif key == "options":
            req["Options"] = _kv(_csv(value))
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    if "count" not in seen and req["DeviceIDs"] is None:
        req["Count"] = 1
    if req["Capabilities"] is None:
        req["Capabilities"] = [["gpu"]]
    return req


def parse_network(text: str) -> dict:
    """--network NAME, or the long form name=NET,alias=A,driver-opt=K=V."""
    if "=" not in text:
        return {"Target": text, "Aliases": [], "DriverOpts": {}}
    import re
    if not re.search(r"\w+=\w+(,\w+=\w+)*", text):
        return {"Target": text, "Aliases": [], "DriverOpts": {}}
    net = {"Target": "", "Aliases": [], "DriverOpts": {}}
    for field in _csv(text):
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if not eq:
            raise ReportError(f"invalid field {key}")
        if key == "name":
            net["Target"] = value
        elif key == "alias":
            net["Aliases"].append(value)
        elif key == "driver-opt":
            k, _, v = value.partition("=")
            net["DriverOpts"][k] = v
        else:
            raise _bad("--network", text, f"invalid field key {key}")
    return net


def parse_restart(text: str) -> dict:
    # the daemon judges the name and the count, as with the docker CLI
    name, _, count = text.partition(":")
    policy = {"Name": name, "MaximumRetryCount": 0}
    if count:
        try:
            policy["MaximumRetryCount"] = int(count)
        except ValueError:
            raise ReportError("maximum retry count must be an integer") from None
    return policy


ULIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
           "rtprio", "rttime", "sigpending", "stack")


def parse_ulimit(text: str) -> dict:
    name, eq, vals = text.partition("=")
    if not eq:
        raise _bad("--ulimit", text, f"invalid ulimit argument: {text}")
    if name not in ULIMITS:
        raise _bad("--ulimit", text, f"invalid ulimit type: {name}")
    limits = vals.split(":")
    if len(limits) > 2:
        raise _bad("--ulimit", text, f"too many limit value arguments - {vals}, can only have up to two, "
                                     "`soft[:hard]`")
    from busybox_engine.cli.flags import _parse_int
    try:
        h = _parse_int(limits[1]) if len(limits) == 2 else None
        s = _parse_int(limits[0])
    except ValueError as e:
        raise _bad("--ulimit", text, str(e)) from None
    h = s if h is None else h
    if h != -1 and s > h:
        raise _bad("--ulimit", text, f"ulimit soft limit must be less than or equal to hard limit: {s} > {h}")
    return {"Name": name, "Soft": s, "Hard": h}


def parse_device(text: str) -> dict:
    parts = text.split(":")
    src = parts[0]
    dst, perms = src, "rwm"
    if len(parts) == 2:
        if 1 <= len(parts[1]) <= 3 and set(parts[1]) <= set("rwm"):
            perms = parts[1]
        else:
            dst = parts[1]
    elif len(parts) == 3:
        dst, perms = parts[1], parts[2]
    elif len(parts) > 3:
        raise _bad("--device", text, f"bad format for path: {text}")
    return {"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perms}




def _security_opts(opts: list) -> list:
    out = []
    for o in opts:
        k, sep, v = o.partition("=")
        if not sep:
            k, sep, v = o.partition(":")
        if k == "seccomp" and v != "unconfined":
            try:
                with open(v, "rb") as f:
                    data = fastjson.loads(f.read())
            except OSError as e:
                raise ReportError(f"opening seccomp profile ({v}) failed: open {v}: "
                                  f"{(e.strerror or '').lower()}") from None
            except ValueError as e:
                raise ReportError(f"compacting json for seccomp profile ({v}) failed: {e}") from None
            o = "seccomp=" + fastjson.dumps(data)
        out.append(o)
    return out


def _user_defined(mode: str) -> bool:
    return mode not in ("default", "bridge", "host", "none") and not mode.startswith("container:")


def endpoint_settings(ipam, links, aliases, driver_opts) -> dict:
    """Go's network.EndpointSettings as the client sends it."""
    return {"IPAMConfig": ipam, "Links": links or None, "Aliases": aliases or None, "NetworkID": "",
            "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": "", "DriverOpts": driver_opts or None}


def endpoints(v, networks: list) -> dict:
    """NetworkingConfig.EndpointsConfig as the 20.10 CLI makes it: the
    first network takes --network-alias, --link, --ip, --ip6 and
    --link-local-ip; a lone network with nothing to say is left out."""
    out = {}
    kinds = set()
    for i, n in enumerate(networks):
        kinds.add(_user_defined(n["Target"]))
        aliases, links, ipv4, ipv6, local = n["Aliases"], [], "", "", []
        if i == 0:
            if aliases and v.network_alias:
                raise ReportError("conflicting options: cannot specify both --network-alias and per-network alias")
            aliases = list(v.network_alias) or aliases
            links, ipv4, ipv6, local = list(v.link), v.ip, v.ip6, list(v.link_local_ip)
        if not n["Target"].strip():
            raise ReportError("no name set for network")
        if not _user_defined(n["Target"]):
            if aliases:
                raise ReportError("network-scoped aliases are only supported for user-defined networks")
            if links:
                raise ReportError("links are only supported for user-defined networks")
        ipam = None
        if ipv4 or ipv6 or local:
            ipam = {k: val for k, val in (("IPv4Address", ipv4), ("IPv6Address", ipv6), ("LinkLocalIPs", local))
                    if val}
        if n["Target"] in out:
            raise ReportError(f'network "{n["Target"]}" is specified multiple times')
        if i == 0 and len(networks) == 1 and not (ipam or links or aliases or n["DriverOpts"]):
            continue
        out[n["Target"]] = endpoint_settings(ipam, links, aliases, n["DriverOpts"])
    if len(kinds) > 1:
        raise ReportError("conflicting options: cannot attach both user-defined and non-user-defined "
                          "network-modes")
    return out


def build(v, args: list, detach: bool = True) -> tuple:
    """(query, body) of POST /containers/create for these flags and
    IMAGE [COMMAND] [ARG...]."""
    image, cmd = args[0], args[1:]
    env = [_env_value(e) for f in v.env_file for e in _read_kv_file(f, "variable")] + \
        [_env_value(e) for e in v.env]
    labels = {}
    for f in v.label_file:
        labels.update(_kv(_read_kv_file(f, "label")))
    labels.update(_kv(v.label))
    exposed, bindings = parse_ports(v.publish)
    for e in v.expose:
        proto = "tcp"
        port = e
        if "/" in e:
            port, proto = e.rsplit("/", 1)
        a, b = _port_range(port, "containerPort")
        for p in range(a, b + 1):
            exposed.setdefault(f"{p}/{proto}", {})
    volumes, binds = {}, []
    for vol in v.volume:
        if ":" not in vol.replace("\\:", ""):
            volumes[vol] = {}
        else:
            binds.append(vol)
    attach = [a.lower() for a in v.attach]
    if detach and attach:
        raise UsageError("Conflicting options: -a and -d", status=1, hint=False)
    # as the CLI's parse: -i attaches stdin, no -a attaches stdout and
    # stderr; `run -d` then attaches nothing
    attach_stdin = "stdin" in attach or v.interactive
    attach_out = not attach or "stdout" in attach
    attach_err = not attach or "stderr" in attach
    if v.mac_address:
        import re
        if not re.fullmatch(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}", v.mac_address):
            raise ReportError(f"{v.mac_address} is not a valid mac address")
    health = None
    health_given = any(k in v.given for k in ("health_cmd", "health_interval", "health_timeout",
                                              "health_retries", "health_start_period"))
    if v.no_healthcheck:
        if health_given:
            raise ReportError("--no-healthcheck conflicts with --health-* options")
        health = {"Test": ["NONE"]}
    elif health_given:
        health = {}
        if v.health_cmd:
            health["Test"] = ["CMD-SHELL", v.health_cmd]
        for key, name in (("Interval", "health_interval"), ("Timeout", "health_timeout"),
                          ("StartPeriod", "health_start_period")):
            if v[name] < 0:
                raise ReportError(f"--{name.replace('_', '-')} cannot be negative")
            if v[name]:
                health[key] = int(v[name] * 1e9)
        if v.health_retries < 0:
            raise ReportError("--health-retries cannot be negative")
        if v.health_retries:
            health["Retries"] = v.health_retries
    restart = parse_restart(v.restart)
    if v.get("rm") and restart["Name"] not in ("", "no"):
        raise ReportError("Conflicting options: --restart and --rm")
    if v.memory_swappiness != -1 and not 0 <= v.memory_swappiness <= 100:
        raise ReportError(f"invalid value: {v.memory_swappiness}. Valid memory swappiness range is 0-100")
    networks = [parse_network(n) for n in v.network]
    network = networks[0]["Target"] if networks else "default"
    # Go's container.Config and HostConfig, in their order; omitempty
    # fields only when set, as encoding/json writes them
    config = {"Hostname": v.hostname, "Domainname": v.domainname, "User": v.user,
              "AttachStdin": attach_stdin and not detach, "AttachStdout": attach_out and not detach,
              "AttachStderr": attach_err and not detach}
    if exposed:
        config["ExposedPorts"] = exposed
    config.update({"Tty": v.tty, "OpenStdin": v.interactive, "StdinOnce": v.interactive and not detach,
                   "Env": env or None, "Cmd": cmd or None})
    if health:
        config["Healthcheck"] = health
    config.update({"Image": image, "Volumes": volumes, "WorkingDir": v.workdir,
                   "Entrypoint": [v.entrypoint] if v.entrypoint else None})
    if v.mac_address:
        config["MacAddress"] = v.mac_address
    config.update({"OnBuild": None, "Labels": labels})
    if v.stop_signal and "stop_signal" in v.given:
        config["StopSignal"] = v.stop_signal
    if "stop_timeout" in v.given:
        config["StopTimeout"] = v.stop_timeout
    host = {
        "Binds": binds or None, "ContainerIDFile": v.cidfile,
        "LogConfig": {"Type": v.log_driver, "Config": _kv(v.log_opt)},
        "NetworkMode": network, "PortBindings": bindings, "RestartPolicy": restart,
        "AutoRemove": bool(v.get("rm")), "VolumeDriver": v.volume_driver, "VolumesFrom": v.volumes_from or None,
        "CapAdd": v.cap_add or None, "CapDrop": v.cap_drop or None, "CgroupnsMode": v.cgroupns,
        "Dns": v.dns, "DnsOptions": v.dns_option, "DnsSearch": v.dns_search, "ExtraHosts": v.add_host or None,
        "GroupAdd": v.group_add or None, "IpcMode": v.ipc, "Cgroup": "", "Links": v.link or None,
        "OomScoreAdj": v.oom_score_adj, "PidMode": v.pid, "Privileged": v.privileged,
        "PublishAllPorts": v.publish_all, "ReadonlyRootfs": v.read_only,
        "SecurityOpt": _security_opts(v.security_opt) or None,
    }
    if v.storage_opt:
        host["StorageOpt"] = _kv(v.storage_opt)
    if v.tmpfs:
        host["Tmpfs"] = {t.split(":", 1)[0]: (t.split(":", 1) + [""])[1] for t in v.tmpfs}
    host.update({"UTSMode": v.uts, "UsernsMode": v.userns, "ShmSize": v.shm_size})
    if v.sysctl:
        host["Sysctls"] = _kv(v.sysctl)
    if v.runtime:
        host["Runtime"] = v.runtime
    host.update({
        "ConsoleSize": [0, 0], "Isolation": v.isolation,
        "CpuShares": v.cpu_shares, "Memory": v.memory, "NanoCpus": v.cpus, "CgroupParent": v.cgroup_parent,
        "BlkioWeight": v.blkio_weight,
        "BlkioWeightDevice": [_weight_device(d) for d in v.blkio_weight_device],
        "BlkioDeviceReadBps": [_throttle(d, True) for d in v.device_read_bps] or None,
        "BlkioDeviceWriteBps": [_throttle(d, True) for d in v.device_write_bps] or None,
        "BlkioDeviceReadIOps": [_throttle(d, False) for d in v.device_read_iops] or None,
        "BlkioDeviceWriteIOps": [_throttle(d, False) for d in v.device_write_iops] or None,
        "CpuPeriod": v.cpu_period, "CpuQuota": v.cpu_quota,
        "CpuRealtimePeriod": v.cpu_rt_period, "CpuRealtimeRuntime": v.cpu_rt_runtime,
        "CpusetCpus": v.cpuset_cpus, "CpusetMems": v.cpuset_mems,
        "Devices": [parse_device(d) for d in v.device],
        "DeviceCgroupRules": v.device_cgroup_rule or None,
        "DeviceRequests": [parse_gpus(g) for g in v.gpus] or None,
        "KernelMemory": v.kernel_memory, "KernelMemoryTCP": 0,
        "MemoryReservation": v.memory_reservation, "MemorySwap": v.memory_swap,
        "MemorySwappiness": v.memory_swappiness, "OomKillDisable": v.oom_kill_disable,
        "PidsLimit": v.pids_limit, "Ulimits": [parse_ulimit(u) for u in v.ulimit] or None,
        "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
    })
    if v.mount:
        host["Mounts"] = [parse_mount(m) for m in v.mount]
    host.update({"MaskedPaths": None, "ReadonlyPaths": None})
    if v.init:
        host["Init"] = True
    networking = {"EndpointsConfig": endpoints(v, networks)}
    body = dict(config, HostConfig=host, NetworkingConfig=networking)
    query = {"name": v.name or None, "platform": v.platform or None}
    return query, body
