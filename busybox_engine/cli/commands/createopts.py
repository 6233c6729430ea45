"""`docker create` / `docker run` flags, and the Engine API body they make
(Config, HostConfig, NetworkingConfig) as the docker CLI builds it."""
import os

from busybox_engine.cli import fastjson

from busybox_engine.cli.flags import Flag, ReportError, UsageError, kv_map as _kv, parse_bytes

CREATE_FLAGS = [
    Flag("add-host", "list", help="Add a custom host-to-IP mapping (host:ip)"),
    Flag("attach", "list", short="a", help="Attach to STDIN, STDOUT or STDERR"),
    Flag("blkio-weight", "uint", help="Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)"),
    Flag("cap-add", "list", help="Add Linux capabilities"),
    Flag("cap-drop", "list", help="Drop Linux capabilities"),
    Flag("cgroup-parent", "string", help="Optional parent cgroup for the container"),
    Flag("cgroupns", "string", help="Cgroup namespace to use (host|private)"),
    Flag("cidfile", "string", help="Write the container ID to the file"),
    Flag("cpu-period", "int", help="Limit CPU CFS (Completely Fair Scheduler) period"),
    Flag("cpu-quota", "int", help="Limit CPU CFS (Completely Fair Scheduler) quota"),
    Flag("cpu-shares", "int", short="c", help="CPU shares (relative weight)"),
    Flag("cpus", "decimal", help="Number of CPUs"),
    Flag("cpuset-cpus", "string", help="CPUs in which to allow execution (0-3, 0,1)"),
    Flag("cpuset-mems", "string", help="MEMs in which to allow execution (0-3, 0,1)"),
    Flag("device", "list", help="Add a host device to the container"),
    Flag("dns", "list", help="Set custom DNS servers"),
    Flag("dns-option", "list", help="Set DNS options"),
    Flag("dns-search", "list", help="Set custom DNS search domains"),
    Flag("domainname", "string", help="Container NIS domain name"),
    Flag("entrypoint", "string", help="Overwrite the default ENTRYPOINT of the image"),
    Flag("env", "list", short="e", help="Set environment variables"),
    Flag("env-file", "list", help="Read in a file of environment variables"),
    Flag("expose", "list", help="Expose a port or a range of ports"),
    Flag("group-add", "list", help="Add additional groups to join"),
    Flag("health-cmd", "string", help="Command to run to check health"),
    Flag("health-interval", "duration", help="Time between running the check (ms|s|m|h) (default 0s)"),
    Flag("health-retries", "int", help="Consecutive failures needed to report unhealthy"),
    Flag("health-start-period", "duration",
         help="Start period for the container to initialize before starting health-retries countdown "
              "(ms|s|m|h) (default 0s)"),
    Flag("health-timeout", "duration", help="Maximum time to allow one check to run (ms|s|m|h) (default 0s)"),
    Flag("hostname", "string", short="h", help="Container host name"),
    Flag("init", help="Run an init inside the container that forwards signals and reaps processes"),
    Flag("interactive", short="i", help="Keep STDIN open even if not attached"),
    Flag("ip", "string", help="IPv4 address (e.g., 172.30.100.104)"),
    Flag("ipc", "string", help="IPC mode to use"),
    Flag("label", "list", short="l", help="Set meta data on a container"),
    Flag("label-file", "list", help="Read in a line delimited file of labels"),
    Flag("log-driver", "string", help="Logging driver for the container"),
    Flag("log-opt", "list", help="Log driver options"),
    Flag("mac-address", "string", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    Flag("memory", "bytes", short="m", help="Memory limit"),
    Flag("memory-reservation", "bytes", help="Memory soft limit"),
    Flag("memory-swap", "string", help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    Flag("memory-swappiness", "int", default=-1, help="Tune container memory swappiness (0 to 100)",
         shown_default="-1"),
    Flag("mount", "list", help="Attach a filesystem mount to the container"),
    Flag("name", "string", help="Assign a name to the container"),
    Flag("network", "string", default="default", help="Connect a container to a network"),
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
    Flag("pull", "string", default="missing",
         help='Pull image before creating ("always"|"missing"|"never")'),
    Flag("read-only", help="Mount the container's root filesystem as read only"),
    Flag("restart", "string", default="no", help="Restart policy to apply when a container exits"),
    Flag("runtime", "string", help="Runtime to use for this container"),
    Flag("security-opt", "list", help="Security Options"),
    Flag("shm-size", "bytes", help="Size of /dev/shm"),
    Flag("stop-signal", "string", default="SIGTERM", help="Signal to stop a container"),
    Flag("stop-timeout", "int", help="Timeout (in seconds) to stop a container"),
    Flag("storage-opt", "list", help="Storage driver options for the container"),
    Flag("sysctl", "list", help="Sysctl options"),
    Flag("tmpfs", "list", help="Mount a tmpfs directory"),
    Flag("tty", short="t", help="Allocate a pseudo-TTY"),
    Flag("ulimit", "list", help="Ulimit options"),
    Flag("user", "string", short="u", help="Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("userns", "string", help="User namespace to use"),
    Flag("uts", "string", help="UTS namespace to use"),
    Flag("volume", "list", short="v", help="Bind mount a volume"),
    Flag("volume-driver", "string", help="Optional volume driver for the container"),
    Flag("volumes-from", "list", help="Mount volumes from the specified container(s)"),
    Flag("workdir", "string", short="w", help="Working directory inside the container"),
]

RUN_ONLY_FLAGS = [
    Flag("detach", short="d", help="Run container in background and print container ID"),
    Flag("detach-keys", "string", help="Override the key sequence for detaching a container"),
    Flag("rm", help="Automatically remove the container when it exits"),
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
    m = {"Type": "volume"}
    opts = {}
    for field in _csv(text):
        key, eq, val = field.partition("=")
        key = key.strip().lower()
        if not eq and key not in ("readonly", "ro", "volume-nocopy"):
            raise _bad("--mount", text, f"invalid field '{field}' must be a key=value pair")
        if key == "type":
            m["Type"] = val
        elif key in ("source", "src"):
            m["Source"] = val
        elif key in ("target", "dst", "destination"):
            m["Target"] = val
        elif key in ("readonly", "ro"):
            m["ReadOnly"] = val.lower() not in ("false", "0") if eq else True
        elif key == "consistency":
            m["Consistency"] = val
        elif key == "bind-propagation":
            m.setdefault("BindOptions", {})["Propagation"] = val
        elif key == "volume-nocopy":
            m.setdefault("VolumeOptions", {})["NoCopy"] = val.lower() not in ("false", "0") if eq else True
        elif key == "volume-label":
            k, _, v = val.partition("=")
            m.setdefault("VolumeOptions", {}).setdefault("Labels", {})[k] = v
        elif key == "volume-driver":
            m.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {})["Name"] = val
        elif key == "volume-opt":
            k, _, v = val.partition("=")
            m.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {}).setdefault("Options", {})[k] = v
        elif key == "tmpfs-size":
            m.setdefault("TmpfsOptions", {})["SizeBytes"] = parse_bytes(val)
        elif key == "tmpfs-mode":
            try:
                m.setdefault("TmpfsOptions", {})["Mode"] = int(val, 8)
            except ValueError:
                raise _bad("--mount", text, f"invalid value for tmpfs-mode: {val}") from None
        else:
            raise _bad("--mount", text, f"unexpected key '{key}' in '{field}'")
        opts[key] = val
    if not m.get("Target"):
        raise _bad("--mount", text, "target is required")
    return m


def _csv(text: str) -> list:
    import csv
    return next(csv.reader([text])) if text else []


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


def parse_ulimit(text: str) -> dict:
    name, eq, vals = text.partition("=")
    if not eq:
        raise _bad("--ulimit", text, f"invalid ulimit argument: {text}")
    soft, _, hard = vals.partition(":")
    try:
        s = int(soft)
        h = int(hard) if hard else s
    except ValueError:
        raise _bad("--ulimit", text, f"invalid ulimit argument: {text}") from None
    if s > h:
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
    for a in attach:
        if a not in ("stdin", "stdout", "stderr"):
            raise _bad("-a, --attach", a, "valid streams are STDIN, STDOUT and STDERR")
    if detach and attach:
        raise UsageError("Conflicting options: -a and -d", status=1, hint=False)
    if not detach:
        if not attach:
            attach = ["stdout", "stderr"] + (["stdin"] if v.interactive else [])
    config = {
        "Hostname": v.hostname, "Domainname": v.domainname, "User": v.user,
        "AttachStdin": "stdin" in attach, "AttachStdout": "stdout" in attach,
        "AttachStderr": "stderr" in attach, "Tty": v.tty, "OpenStdin": v.interactive,
        "StdinOnce": v.interactive and "stdin" in attach and not detach,
        "Env": env, "Cmd": cmd or None, "Image": image, "Volumes": volumes or None,
        "WorkingDir": v.workdir, "Entrypoint": None, "Labels": labels,
    }
    if exposed:
        config["ExposedPorts"] = exposed
    if "entrypoint" in v.given:
        config["Entrypoint"] = [v.entrypoint]
    if "stop_signal" in v.given:
        config["StopSignal"] = v.stop_signal
    if "stop_timeout" in v.given:
        config["StopTimeout"] = v.stop_timeout
    if v.mac_address:
        config["MacAddress"] = v.mac_address
    health = {}
    if v.no_healthcheck:
        if any(k in v.given for k in ("health_cmd", "health_interval", "health_timeout", "health_retries",
                                      "health_start_period")):
            raise ReportError("--no-healthcheck conflicts with --health-* options")
        health = {"Test": ["NONE"]}
    elif any(k in v.given for k in ("health_cmd", "health_interval", "health_timeout", "health_retries",
                                    "health_start_period")):
        if v.health_cmd:
            health["Test"] = ["CMD-SHELL", v.health_cmd]
        for key, name in (("Interval", "health_interval"), ("Timeout", "health_timeout"),
                          ("StartPeriod", "health_start_period")):
            if v[name] < 0:
                raise ReportError(f"--{name.replace('_', '-')} cannot be negative")
            health[key] = int(v[name] * 1e9)
        if v.health_retries < 0:
            raise ReportError("--health-retries cannot be negative")
        health["Retries"] = v.health_retries
    if health:
        config["Healthcheck"] = health
    swap = 0
    if v.memory_swap:
        swap = -1 if v.memory_swap == "-1" else None
        if swap is None:
            try:
                swap = parse_bytes(v.memory_swap)
            except ValueError as e:
                raise _bad("--memory-swap", v.memory_swap, str(e)) from None
    if v.memory_swappiness != -1 and not 0 <= v.memory_swappiness <= 100:
        raise ReportError(f"invalid value: {v.memory_swappiness}. Valid memory swappiness range is 0-100")
    network = v.network
    host = {
        "Binds": binds or None, "ContainerIDFile": v.cidfile,
        "LogConfig": {"Type": v.log_driver, "Config": _kv(v.log_opt)},
        "NetworkMode": network, "PortBindings": bindings, "RestartPolicy": parse_restart(v.restart),
        "AutoRemove": bool(v.get("rm")), "VolumeDriver": v.volume_driver, "VolumesFrom": v.volumes_from or None,
        "CapAdd": v.cap_add or None, "CapDrop": v.cap_drop or None, "CgroupnsMode": v.cgroupns,
        "Dns": v.dns, "DnsOptions": v.dns_option, "DnsSearch": v.dns_search, "ExtraHosts": v.add_host or None,
        "GroupAdd": v.group_add or None, "IpcMode": v.ipc, "Cgroup": "", "OomScoreAdj": v.oom_score_adj,
        "PidMode": v.pid, "Privileged": v.privileged, "PublishAllPorts": v.publish_all,
        "ReadonlyRootfs": v.read_only, "SecurityOpt": _security_opts(v.security_opt) or None,
        "StorageOpt": _kv(v.storage_opt) or None, "Tmpfs": {t.split(":", 1)[0]: (t.split(":", 1) + [""])[1]
                                                           for t in v.tmpfs} or None,
        "UTSMode": v.uts, "UsernsMode": v.userns, "ShmSize": v.shm_size, "Sysctls": _kv(v.sysctl) or None,
        "Runtime": v.runtime, "CgroupParent": v.cgroup_parent, "BlkioWeight": v.blkio_weight,
        "CpuShares": v.cpu_shares, "Memory": v.memory, "NanoCpus": v.cpus, "CpuPeriod": v.cpu_period,
        "CpuQuota": v.cpu_quota, "CpusetCpus": v.cpuset_cpus, "CpusetMems": v.cpuset_mems,
        "Devices": [parse_device(d) for d in v.device], "MemoryReservation": v.memory_reservation,
        "MemorySwap": swap, "MemorySwappiness": None if v.memory_swappiness == -1 else v.memory_swappiness,
        "OomKillDisable": v.oom_kill_disable, "Ulimits": [parse_ulimit(u) for u in v.ulimit] or None,
        "Mounts": [parse_mount(m) for m in v.mount] or None,
    }
    if "pids_limit" in v.given:
        host["PidsLimit"] = v.pids_limit
    if v.init:
        host["Init"] = True
    networking = {"EndpointsConfig": {}}
    if v.network_alias or v.ip:
        if network in ("default", "bridge", "host", "none") or network.startswith("container:"):
            if v.network_alias:
                raise ReportError("network-scoped aliases are only supported for user-defined networks")
        ep = {}
        if v.network_alias:
            ep["Aliases"] = v.network_alias
        if v.ip:
            ep["IPAMConfig"] = {"IPv4Address": v.ip}
        networking["EndpointsConfig"][network] = ep
    body = dict(config, HostConfig=host, NetworkingConfig=networking)
    query = {"name": v.name or None, "platform": v.platform or None}
    return query, body
