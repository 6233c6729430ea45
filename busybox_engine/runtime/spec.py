"""Load and check a bundle's config.json (runtime-spec 1.1, Linux).

Checks the shape of everything the runtime reads, so a broken config is
one clear line before anything is created, never a traceback halfway.
"""
import os

from busybox_engine.runtime.errors import InvalidConfig
from busybox_engine.util import fastjson as json

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer",
              "poststart", "poststop")


def _type_name(t) -> str:
    return {str: "a string", int: "an integer", bool: "a boolean", list: "an array",
            dict: "an object"}.get(t, t.__name__)


def _want(value, t, where: str):
    ok = isinstance(value, t) and not (t is int and isinstance(value, bool))
    if not ok:
        raise InvalidConfig(f"config.json: {where} must be {_type_name(t)}")
    return value


def _opt(obj: dict, key: str, t, where: str, default=None):
    if key not in obj or obj[key] is None:
        return default
    return _want(obj[key], t, f"{where}.{key}" if where else key)


def _strings(value, where: str) -> list:
    _want(value, list, where)
    for i, item in enumerate(value):
        _want(item, str, f"{where}[{i}]")
    return value


def load(bundle: str) -> dict:
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise InvalidConfig(f"JSON specification file {path} not found") from None
    except OSError as e:
        raise InvalidConfig(f"open `{path}`: {e.strerror}") from None
    try:
        spec = json.loads(raw)
    except ValueError as e:
        raise InvalidConfig(f"config.json: invalid JSON: {e}") from None
    except RecursionError:
        raise InvalidConfig("config.json: invalid JSON: nested too deeply") from None
    try:
        validate(spec)
    except RecursionError:
        raise InvalidConfig("config.json: nested too deeply") from None
    return spec


def validate(spec) -> None:
    _want(spec, dict, "the top level")
    # any string, or none at all, as runc 1.1 takes it (it does not check
    # the version is semver)
    _opt(spec, "ociVersion", str, "")
    root = spec.get("root")
    if root is None:
        raise InvalidConfig("config.json: root must be set")
    _want(root, dict, "root")
    _want(root.get("path"), str, "root.path")
    if not root["path"]:
        raise InvalidConfig("config.json: root.path must not be empty")
    _opt(root, "readonly", bool, "root")
    process = spec.get("process")
    if process is None:
        raise InvalidConfig("config.json: process must be set")
    validate_process(process, "process")
    _opt(spec, "hostname", str, "")
    _opt(spec, "domainname", str, "")
    for i, m in enumerate(_opt(spec, "mounts", list, "", [])):
        where = f"mounts[{i}]"
        _want(m, dict, where)
        dest = _want(m.get("destination"), str, f"{where}.destination")
        if not dest.startswith("/"):
            raise InvalidConfig(f"config.json: {where}.destination {dest!r} is not absolute")
        _opt(m, "type", str, where)
        _opt(m, "source", str, where)
        _strings(m.get("options") or [], f"{where}.options")
    hooks = _opt(spec, "hooks", dict, "", {})
    for kind, entries in hooks.items():
        if kind not in HOOK_KINDS:
            raise InvalidConfig(f"config.json: hooks: unknown hook kind {kind!r}")
        for i, h in enumerate(_want(entries or [], list, f"hooks.{kind}")):
            where = f"hooks.{kind}[{i}]"
            _want(h, dict, where)
            p = _want(h.get("path"), str, f"{where}.path")
            if not p.startswith("/"):
                raise InvalidConfig(f"config.json: {where}.path {p!r} is not absolute")
            _strings(h.get("args") or [], f"{where}.args")
            _strings(h.get("env") or [], f"{where}.env")
            t = _opt(h, "timeout", int, where)
            if t is not None and t <= 0:
                raise InvalidConfig(f"config.json: {where}.timeout must be positive")
    _opt(spec, "annotations", dict, "", {})
    linux = _opt(spec, "linux", dict, "", {})
    validate_linux(linux)


def validate_process(process, where: str) -> None:
    _want(process, dict, where)
    args = _strings(process.get("args") or [], f"{where}.args")
    if not args:
        raise InvalidConfig(f"config.json: {where}.args must not be empty")
    cwd = _want(process.get("cwd", "/"), str, f"{where}.cwd")
    if not cwd.startswith("/"):
        raise InvalidConfig(f"config.json: {where}.cwd {cwd!r} is not absolute")
    for item in _strings(process.get("env") or [], f"{where}.env"):
        name, eq, _ = item.partition("=")
        if not eq:
            raise InvalidConfig(f'invalid environment variable: "{item}"')
        if not name:
            raise InvalidConfig(f'environment variable name can\'t be empty: "{item}"')
    _opt(process, "terminal", bool, where)
    user = _opt(process, "user", dict, where, {})
    for k in ("uid", "gid", "umask"):
        v = _opt(user, k, int, f"{where}.user")
        if v is not None and v < 0:
            raise InvalidConfig(f"config.json: {where}.user.{k} must not be negative")
    for i, g in enumerate(_opt(user, "additionalGids", list, f"{where}.user", [])):
        _want(g, int, f"{where}.user.additionalGids[{i}]")
    caps = _opt(process, "capabilities", dict, where, {})
    for k, v in caps.items():
        if k not in ("bounding", "effective", "inheritable", "permitted", "ambient"):
            raise InvalidConfig(f"config.json: {where}.capabilities: unknown set {k!r}")
        _strings(v or [], f"{where}.capabilities.{k}")
    seen = set()
    for i, r in enumerate(_opt(process, "rlimits", list, where, [])):
        w = f"{where}.rlimits[{i}]"
        _want(r, dict, w)
        t = _want(r.get("type"), str, f"{w}.type")
        if t not in RLIMITS:
            raise InvalidConfig(f"config.json: {w}: unknown rlimit type {t!r}")
        if t in seen:
            raise InvalidConfig(f"config.json: {w}: duplicate rlimit {t}")
        seen.add(t)
        soft = _want(r.get("soft"), int, f"{w}.soft")
        hard = _want(r.get("hard"), int, f"{w}.hard")
        if soft < 0 or hard < 0 or soft > hard:
            raise InvalidConfig(f"config.json: {w}: soft {soft} must be within 0..hard {hard}")
    _opt(process, "noNewPrivileges", bool, where)
    _opt(process, "oomScoreAdj", int, where)
    _opt(process, "apparmorProfile", str, where)
    _opt(process, "selinuxLabel", str, where)


def validate_linux(linux: dict) -> None:
    seen = set()
    for i, ns in enumerate(_opt(linux, "namespaces", list, "linux", [])):
        w = f"linux.namespaces[{i}]"
        _want(ns, dict, w)
        t = _want(ns.get("type"), str, f"{w}.type")
        if t not in NAMESPACE_TYPES:
            raise InvalidConfig(f"config.json: {w}: unknown namespace type {t!r}")
        if t in seen:
            raise InvalidConfig(f"config.json: {w}: duplicate namespace {t}")
        seen.add(t)
        _opt(ns, "path", str, w)
    for key in ("uidMappings", "gidMappings"):
        for i, m in enumerate(_opt(linux, key, list, "linux", [])):
            w = f"linux.{key}[{i}]"
            _want(m, dict, w)
            for k in ("containerID", "hostID", "size"):
                if _want(m.get(k), int, f"{w}.{k}") < 0:
                    raise InvalidConfig(f"config.json: {w}.{k} must not be negative")
    if (linux.get("uidMappings") or linux.get("gidMappings")) and "user" not in seen:
        raise InvalidConfig("config.json: user namespace mappings given without a user namespace")
    _opt(linux, "cgroupsPath", str, "linux")
    resources = _opt(linux, "resources", dict, "linux", {})
    for key, value in _opt(resources, "unified", dict, "linux.resources", {}).items():
        _want(value, str, f"linux.resources.unified[{key!r}]")
        if not key or "/" in key or key in (".", ".."):
            raise InvalidConfig(f"config.json: unified resource {key!r} must be a file name (no slashes)")
    for k, v in _opt(linux, "sysctl", dict, "linux", {}).items():
        _want(v, str, f"linux.sysctl.{k}")
    _strings(linux.get("maskedPaths") or [], "linux.maskedPaths")
    _strings(linux.get("readonlyPaths") or [], "linux.readonlyPaths")
    _opt(linux, "rootfsPropagation", str, "linux")
    for i, d in enumerate(_opt(linux, "devices", list, "linux", [])):
        w = f"linux.devices[{i}]"
        _want(d, dict, w)
        _want(d.get("path"), str, f"{w}.path")
        if _want(d.get("type"), str, f"{w}.type") not in ("c", "b", "u", "p"):
            raise InvalidConfig(f"config.json: {w}.type must be c, b, u or p")
    if linux.get("seccomp") is not None:
        validate_seccomp(linux["seccomp"])


SECCOMP_ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",
                   "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")
SECCOMP_OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
               "SCMP_CMP_MASKED_EQ")


def validate_seccomp(profile) -> None:
    """Every part of linux.seccomp has its type (a string where a list is
    due is an error, never a list of its letters), every action and
    operator is known."""
    w = "linux.seccomp"
    _want(profile, dict, w)
    _seccomp_action(_opt(profile, "defaultAction", str, w, ""), f"{w}.defaultAction")
    _opt(profile, "defaultErrnoRet", int, w)
    _strings(profile.get("architectures") or [], f"{w}.architectures")
    _strings(profile.get("flags") or [], f"{w}.flags")
    _opt(profile, "listenerPath", str, w)
    for i, rule in enumerate(_opt(profile, "syscalls", list, w, [])):
        rw = f"{w}.syscalls[{i}]"
        _want(rule, dict, rw)
        _strings(rule.get("names") or [], f"{rw}.names")
        _seccomp_action(_opt(rule, "action", str, rw, ""), f"{rw}.action")
        _opt(rule, "errnoRet", int, rw)
        for j, arg in enumerate(_opt(rule, "args", list, rw, [])):
            aw = f"{rw}.args[{j}]"
            _want(arg, dict, aw)
            index = _want(arg.get("index", 0), int, f"{aw}.index")
            if not 0 <= index <= 5:
                raise InvalidConfig(f"config.json: {aw}: syscalls only have up to 6 arguments ({index} given)")
            for k in ("value", "valueTwo"):
                v = _opt(arg, k, int, aw)
                if v is not None and not 0 <= v < 1 << 64:
                    raise InvalidConfig(f"config.json: {aw}.{k} must be within 0..2^64-1")
            op = _want(arg.get("op"), str, f"{aw}.op")
            if op not in SECCOMP_OPS:
                raise InvalidConfig(f"config.json: {aw}: unknown operator {op!r}")


def _seccomp_action(name: str, where: str) -> None:
    if name not in SECCOMP_ACTIONS:
        raise InvalidConfig(f"config.json: {where}: string {name} is not a valid action for seccomp")


def rootfs_path(spec: dict, bundle: str) -> str:
    """The rootfs as an absolute path, which must be real: runc refuses a
    rootfs that is a symlink, or reached through one."""
    path = spec["root"]["path"]
    if not os.path.isabs(path):
        path = os.path.join(os.path.realpath(bundle), path)
    path = os.path.normpath(path)
    if os.path.exists(path) and os.path.realpath(path) != path:
        raise InvalidConfig("invalid rootfs: not an absolute path, or a symlink")
    return path
