"""dockerd's settings: its flags, and daemon.json (--config-file) as
dockerd reads it: keys named as the long flags, a key given both ways or
a key it does not know is an error naming it."""
import json
import os
from dataclasses import dataclass, field

DEFAULT_HOST = "unix:///run/busybox-engine/docker.sock"
DEFAULT_DATA_ROOT = "/var/lib/busybox-engine/docker"
DEFAULT_EXEC_ROOT = "/run/busybox-engine/docker"
DEFAULT_PIDFILE = "/run/busybox-engine/dockerd.pid"
DEFAULT_CONFIG_FILE = "/etc/busybox-engine/daemon.json"


@dataclass
class Config:
    hosts: list = field(default_factory=lambda: [DEFAULT_HOST])
    data_root: str = DEFAULT_DATA_ROOT
    exec_root: str = DEFAULT_EXEC_ROOT
    pidfile: str = DEFAULT_PIDFILE
    containerd: str = ""          # empty: start and supervise our own
    group: str = "docker"
    debug: bool = False
    live_restore: bool = False
    insecure_registries: list = field(default_factory=list)
    registry_mirrors: list = field(default_factory=list)
    log_driver: str = "json-file"
    log_opts: dict = field(default_factory=dict)
    default_ulimits: dict = field(default_factory=dict)
    seccomp_profile: str = ""
    init: bool = False
    default_runtime: str = "runc"
    runtimes: dict = field(default_factory=dict)
    tls: bool = False
    tlsverify: bool = False
    tlscacert: str = ""
    tlscert: str = ""
    tlskey: str = ""
    bridge: str = ""              # the default bridge's name ("" is bbe0), or none
    bip: str = ""
    fixed_cidr: str = ""
    iptables: bool = True
    icc: bool = True
    mtu: int = 0
    userland_proxy: bool = True
    default_address_pools: list = field(default_factory=list)   # [{"base": CIDR, "size": N}]
    config_file: str = ""
    argv: list = field(default_factory=list)   # what it was loaded from, for a reload


# daemon.json key -> (Config attribute, type)
KEYS = {
    "hosts": ("hosts", list), "data-root": ("data_root", str), "exec-root": ("exec_root", str),
    "pidfile": ("pidfile", str), "containerd": ("containerd", str), "group": ("group", str),
    "debug": ("debug", bool), "live-restore": ("live_restore", bool),
    "insecure-registries": ("insecure_registries", list), "registry-mirrors": ("registry_mirrors", list),
    "log-driver": ("log_driver", str), "log-opts": ("log_opts", dict),
    "default-ulimits": ("default_ulimits", dict), "seccomp-profile": ("seccomp_profile", str),
    "init": ("init", bool), "default-runtime": ("default_runtime", str), "runtimes": ("runtimes", dict),
    "log-level": (None, str), "storage-driver": (None, str), "iptables": ("iptables", bool),
    "bridge": ("bridge", str), "bip": ("bip", str), "fixed-cidr": ("fixed_cidr", str), "icc": ("icc", bool),
    "mtu": ("mtu", int), "userland-proxy": ("userland_proxy", bool), "ip-forward": (None, bool),
    "tls": ("tls", bool), "tlsverify": ("tlsverify", bool), "tlscacert": ("tlscacert", str),
    "tlscert": ("tlscert", str), "tlskey": ("tlskey", str),
    "default-address-pools": ("default_address_pools", list),
}


class ConfigError(ValueError):
    pass


def parser():
    import argparse
    p = argparse.ArgumentParser(prog="dockerd", description="A self-sufficient runtime for containers.")
    a = p.add_argument
    a("-H", "--host", action="append", dest="hosts", help="Daemon socket(s) to connect to")
    a("--data-root", help="Root directory of persistent Docker state")
    a("--exec-root", help="Root directory for execution state files")
    a("-p", "--pidfile", help="Path to use for daemon PID file")
    a("--containerd", help="containerd grpc address (default: start our own)")
    a("-G", "--group", help="Group for the unix socket")
    a("-D", "--debug", action="store_true", default=None, help="Enable debug mode")
    a("-l", "--log-level", help="Set the logging level")
    a("--live-restore", action="store_true", default=None,
      help="Enable live restore of docker when containers are still running")
    a("--insecure-registry", action="append", dest="insecure_registries",
      help="Enable insecure registry communication")
    a("--registry-mirror", action="append", dest="registry_mirrors", help="Preferred registry mirror")
    a("--log-driver", help="Default driver for container logs")
    a("--log-opt", action="append", dest="log_opts", help="Default log driver options for containers")
    a("--default-ulimit", action="append", dest="default_ulimits", help="Default ulimits for containers")
    a("--seccomp-profile", help="Path to seccomp profile")
    a("--init", action="store_true", default=None, help="Run an init in the container")
    a("--default-runtime", help="Default OCI runtime for containers")
    a("--add-runtime", action="append", dest="runtimes", help="Register an additional OCI compatible runtime")
    a("--config-file", default=None, help="Daemon configuration file")
    a("--tls", action="store_true", default=None, help="Use TLS; implied by --tlsverify")
    a("--tlsverify", action="store_true", default=None, help="Use TLS and verify the remote")
    a("--tlscacert", help="Trust certs signed only by this CA")
    a("--tlscert", help="Path to TLS certificate file")
    a("--tlskey", help="Path to TLS key file")
    a("--iptables", type=_flag_bool, nargs="?", const=True, default=None,
      help="Enable addition of iptables rules (default true)")
    a("--icc", type=_flag_bool, nargs="?", const=True, default=None,
      help="Enable inter-container communication (default true)")
    a("--bridge", "-b", default=None, help="Attach containers to a network bridge (default bbe0; none: no bridge)")
    a("--bip", default=None, help="Specify network bridge IP")
    a("--fixed-cidr", default=None, help="IPv4 subnet for fixed IPs")
    a("--mtu", type=int, default=None, help="Set the containers network MTU")
    a("--userland-proxy", type=_flag_bool, nargs="?", const=True, default=None,
      help="Use userland proxy for loopback traffic (default true)")
    a("--default-address-pool", action="append", dest="address_pools", default=None,
      help="Default address pools for node specific local networks (base=CIDR,size=N)")
    a("-v", "--version", action="store_true")
    return p


def parse_address_pool(text: str) -> dict:
    """--default-address-pool base=10.10.0.0/16,size=24"""
    out = {}
    for part in text.split(","):
        k, eq, v = part.strip().partition("=")
        if not eq or k not in ("base", "size"):
            raise ConfigError(f"invalid --default-address-pool {text!r}: expected base=CIDR,size=N")
        out[k] = v
    if "base" not in out or "size" not in out:
        raise ConfigError(f"invalid --default-address-pool {text!r}: base and size are required")
    try:
        out["size"] = int(out["size"])
    except ValueError:
        raise ConfigError(f"invalid --default-address-pool {text!r}: size is not a number") from None
    return out


def address_pools(pools: list) -> list:
    """[(base, size)] of the configured pools, checked (IPv4 only)."""
    import ipaddress
    out = []
    for p in pools or []:
        if not isinstance(p, dict) or "base" not in p or "size" not in p:
            raise ConfigError(f"invalid default address pool {p!r}: base and size are required")
        try:
            net = ipaddress.ip_network(str(p["base"]))
        except ValueError:
            raise ConfigError(f"invalid default address pool base {p['base']!r}: not a CIDR") from None
        if net.version != 4:
            raise ConfigError(f"default address pool {p['base']}: only IPv4 pools are supported")
        size = p["size"]
        if not isinstance(size, int) or not net.prefixlen <= size <= 30:
            raise ConfigError(f"invalid pool request: size {size} is not within {net.prefixlen}..30 "
                              f"of {p['base']}")
        out.append((str(net), size))
    return out


def _flag_bool(text: str) -> bool:
    """Go's strconv.ParseBool, as dockerd reads --iptables=false."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError(text)


def _kv_list(items: list, what: str) -> dict:
    out = {}
    for item in items or []:
        k, eq, v = item.partition("=")
        if not eq:
            raise ConfigError(f"invalid {what}: {item!r}: expected key=value")
        out[k] = v
    return out


# what SIGHUP changes in a running dockerd, as Docker reloads them
RELOADABLE = ("debug", "live_restore", "runtimes", "default_runtime", "insecure_registries",
              "registry_mirrors")


def reload(cfg: Config) -> dict:
    """The flags and the config file read again; what changed of the
    reloadable settings is applied to cfg and returned. A bad file is a
    ConfigError, and cfg is left as it was."""
    new = load(cfg.argv)
    changed = {}
    for attr in RELOADABLE:
        if getattr(new, attr) != getattr(cfg, attr):
            changed[attr] = getattr(new, attr)
            setattr(cfg, attr, getattr(new, attr))
    return changed


def load(argv: list) -> Config:
    args = parser().parse_args(argv)
    cfg = Config(argv=list(argv))
    given = {}
    for key, (attr, _kind) in KEYS.items():
        if attr is None:
            continue
        value = getattr(args, attr, None)
        if value is not None:
            given[key] = value
    if args.log_opts:
        given["log-opts"] = _kv_list(args.log_opts, "log-opt")
    if args.runtimes:
        given["runtimes"] = {k: {"path": v} for k, v in _kv_list(args.runtimes, "add-runtime").items()}
    if args.default_ulimits:
        given["default-ulimits"] = parse_ulimits(args.default_ulimits)
    if args.address_pools:
        given["default-address-pools"] = [parse_address_pool(x) for x in args.address_pools]
    path = args.config_file or (DEFAULT_CONFIG_FILE if os.path.exists(DEFAULT_CONFIG_FILE) else "")
    if path:
        from_file = read_file(path)
        both = sorted(k for k in from_file if k in given)
        if both:
            raise ConfigError("the following directives are specified both as a flag and in the "
                              f"configuration file: {', '.join(f'{k}: (from flag: {given[k]}, from file: {from_file[k]})' for k in both)}")
        given.update(from_file)
        cfg.config_file = path
    for key, value in given.items():
        attr = KEYS[key][0]
        if attr is not None:
            setattr(cfg, attr, value)
    cfg.containerd = cfg.containerd[len("unix://"):] if cfg.containerd.startswith("unix://") else cfg.containerd
    from busybox_engine.api import logopts
    from busybox_engine.rpc.errors import InvalidArgument
    try:
        logopts.check(cfg.log_driver, {k: str(v) for k, v in (cfg.log_opts or {}).items()})
    except InvalidArgument as e:
        raise ConfigError(e.message) from None
    check_hosts(cfg)
    address_pools(cfg.default_address_pools)
    for name, rt in (cfg.runtimes or {}).items():
        if name == "runc":
            raise ConfigError("runtime name 'runc' is reserved")
        if not isinstance(rt, dict) or not isinstance(rt.get("path"), str) or not rt["path"]:
            raise ConfigError(f"runtime {name}: a path is required")
    if cfg.default_runtime != "runc" and cfg.default_runtime not in (cfg.runtimes or {}):
        raise ConfigError(f"specified default runtime '{cfg.default_runtime}' does not exist")
    return cfg


def read_file(path: str) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"unable to configure the Docker daemon with file {path}: "
                          "open: no such file or directory") from None
    except ValueError as e:
        raise ConfigError(f"unable to configure the Docker daemon with file {path}: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"unable to configure the Docker daemon with file {path}: not a JSON object")
    unknown = sorted(k for k in data if k not in KEYS)
    if unknown:
        raise ConfigError("the following directives don't match any configuration option: "
                          + ", ".join(unknown))
    for k, v in data.items():
        kind = KEYS[k][1]
        if not isinstance(v, kind) or (kind is not bool and isinstance(v, bool)):
            raise ConfigError(f"unable to configure the Docker daemon with file {path}: "
                              f"{k} must be a {kind.__name__}")
    return data


def parse_ulimits(items: list) -> dict:
    """--default-ulimit nofile=1024:2048 -> {"nofile": {"Name","Soft","Hard"}}"""
    out = {}
    for item in items:
        name, eq, limits = item.partition("=")
        soft, _, hard = limits.partition(":")
        try:
            out[name] = {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}
        except ValueError:
            raise ConfigError(f"invalid ulimit argument: {item}") from None
        if not eq:
            raise ConfigError(f"invalid ulimit argument: {item}")
    return out


def check_hosts(cfg: Config) -> None:
    """unix sockets, and tcp only with mutual TLS: a plain tcp socket is
    root on the host for anyone who can reach it."""
    for h in cfg.hosts:
        if h.startswith("unix://") or h.startswith("/"):
            continue
        if not h.startswith("tcp://"):
            raise ConfigError(f"invalid -H {h!r}: only unix:// and tcp:// (with --tlsverify) are served")
        if not cfg.tlsverify:
            raise ConfigError(f"refusing to listen on {h} without TLS: give --tlsverify --tlscacert "
                              "--tlscert --tlskey (mutual TLS), or listen on a unix:// socket")
        home = os.path.join(os.path.expanduser("~"), ".docker")
        cfg.tlscacert = cfg.tlscacert or os.path.join(home, "ca.pem")
        cfg.tlscert = cfg.tlscert or os.path.join(home, "cert.pem")
        cfg.tlskey = cfg.tlskey or os.path.join(home, "key.pem")
        for flag, path in (("--tlscacert", cfg.tlscacert), ("--tlscert", cfg.tlscert), ("--tlskey", cfg.tlskey)):
            if not os.path.isfile(path):
                raise ConfigError(f"could not load TLS files for {h}: {flag} {path}: no such file")


def tcp_address(host: str, tls: bool = True) -> tuple:
    """(host, port) of tcp://HOST[:PORT] (port 2376 with TLS, 2375 without, as dockerd)."""
    rest = host[len("tcp://"):].rstrip("/")
    if rest.startswith("["):
        addr, _, port = rest[1:].partition("]")
        port = port.lstrip(":")
    else:
        addr, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    try:
        port = int(port) if port else (2376 if tls else 2375)
    except ValueError:
        raise ConfigError(f"invalid -H {host!r}: bad port") from None
    return addr or "0.0.0.0", port
