"""CNI network configuration, as libcni loads it: the first file of the
configuration directory, in name order, with a `.conflist` (a list of
plugins) or a `.conf`/`.json` (one plugin) that parses."""
import json
import os

EXTENSIONS = (".conf", ".conflist", ".json")


class NoNetwork(Exception):
    """No usable network configuration (kubelet then sees NetworkReady false)."""


def load_network(conf_dir: str) -> dict:
    """The conflist to use: {"cniVersion", "name", "plugins": [...]}."""
    try:
        names = sorted(n for n in os.listdir(conf_dir) if n.endswith(EXTENSIONS))
    except FileNotFoundError:
        raise NoNetwork(f"no network config found in {conf_dir}") from None
    problems = []
    for name in names:
        path = os.path.join(conf_dir, name)
        try:
            with open(path, "rb") as f:
                doc = json.loads(f.read())
            return as_conflist(doc, name.endswith(".conflist"))
        except (OSError, ValueError) as e:
            problems.append(f"{path}: {e}")
    raise NoNetwork("; ".join(problems) or f"no network config found in {conf_dir}")


def as_conflist(doc, is_list: bool) -> dict:
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    if is_list or "plugins" in doc:
        plugins = doc.get("plugins")
        if not isinstance(plugins, list) or not plugins:
            raise ValueError("a conflist needs a non-empty \"plugins\" list")
    else:
        plugins = [doc]
    for p in plugins:
        if not isinstance(p, dict) or not isinstance(p.get("type"), str) or not p["type"]:
            raise ValueError("each plugin needs a \"type\"")
    if not isinstance(doc.get("name"), str) or not doc["name"]:
        raise ValueError("the network needs a \"name\"")
    return {"cniVersion": str(doc.get("cniVersion", "0.4.0")), "name": doc["name"], "plugins": plugins,
            "disableCheck": bool(doc.get("disableCheck", False))}


class CNIError(Exception):
    pass


def find_plugin(kind: str, bin_dirs: list) -> str:
    if "/" in kind or kind in (".", ".."):
        raise CNIError(f"invalid plugin type {kind!r}")
    for d in bin_dirs:
        path = os.path.join(d, kind)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise CNIError(f"failed to find plugin {kind!r} in path {bin_dirs}")


async def _invoke(command: str, plugin: dict, net: dict, env: dict, bin_dirs: list,
                  prev: dict | None, runtime_config: dict) -> dict:
    from busybox_engine.util.procs import run_piped
    conf = dict(plugin, name=net["name"], cniVersion=net["cniVersion"])
    caps = plugin.get("capabilities") or {}
    rc = {k: v for k, v in runtime_config.items() if caps.get(k)}
    if rc:
        conf["runtimeConfig"] = rc
    if prev is not None:
        conf["prevResult"] = prev
    rc, out, err = await run_piped([find_plugin(plugin["type"], bin_dirs)], json.dumps(conf).encode(),
                                   dict(env, CNI_COMMAND=command, CNI_PATH=os.pathsep.join(bin_dirs)))
    if rc != 0:
        try:
            doc = json.loads(out)
            msg = doc.get("msg") or ""
            if doc.get("details"):
                msg += f"; {doc['details']}"
        except ValueError:
            msg = (out or err).decode(errors="replace").strip()
        raise CNIError(f"plugin type={plugin['type']!r} failed ({command.lower()}): {msg}")
    if command != "ADD":
        return prev or {}
    try:
        return json.loads(out)
    except ValueError:
        raise CNIError(f"plugin type={plugin['type']!r} gave no JSON result") from None


def _env(container_id: str, netns: str, ifname: str, args: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k == "PATH"}
    env.update(CNI_CONTAINERID=container_id, CNI_NETNS=netns, CNI_IFNAME=ifname,
               CNI_ARGS=";".join(["IgnoreUnknown=1"] + [f"{k}={v}" for k, v in args.items()]))
    return env


async def add(net: dict, container_id: str, netns: str, bin_dirs: list, ifname: str = "eth0",
              args: dict | None = None, runtime_config: dict | None = None) -> dict:
    """ADD through the chain, each plugin given the one before's result;
    the last result. A failure deletes what was added."""
    env = _env(container_id, netns, ifname, args or {})
    result = None
    try:
        for plugin in net["plugins"]:
            result = await _invoke("ADD", plugin, net, env, bin_dirs, result, runtime_config or {})
    except BaseException:
        try:
            await delete(net, container_id, netns, bin_dirs, ifname, args, runtime_config, result)
        except CNIError:
            pass
        raise
    return result or {}


async def delete(net: dict, container_id: str, netns: str, bin_dirs: list, ifname: str = "eth0",
                 args: dict | None = None, runtime_config: dict | None = None, prev: dict | None = None) -> None:
    """DEL through the chain in reverse, as the spec asks; a netns already
    gone is fine (plugins then free what they hold outside it)."""
    env = _env(container_id, netns, ifname, args or {})
    errors = []
    for plugin in reversed(net["plugins"]):
        try:
            await _invoke("DEL", plugin, net, env, bin_dirs, prev, runtime_config or {})
        except CNIError as e:
            errors.append(str(e))
    if errors:
        raise CNIError("; ".join(errors))


def _version(v: str) -> tuple:
    try:
        return tuple(int(x) for x in v.split("."))
    except ValueError:
        return (0,)


async def check(net: dict, container_id: str, netns: str, bin_dirs: list, ifname: str = "eth0",
                args: dict | None = None, runtime_config: dict | None = None, prev: dict | None = None) -> bool:
    """CHECK through the chain in order, each plugin given ADD's final
    result; False when the network asks for none (CNI before 0.4.0, or
    disableCheck), else a failure raises CNIError."""
    if net.get("disableCheck") or _version(net["cniVersion"]) < (0, 4, 0):
        return False
    env = _env(container_id, netns, ifname, args or {})
    for plugin in net["plugins"]:
        await _invoke("CHECK", plugin, net, env, bin_dirs, prev or {}, runtime_config or {})
    return True


def pod_ips(result: dict, ifname: str = "eth0") -> list:
    """The addresses (no prefix) of the pod's interface, IPv4 first."""
    ifaces = result.get("interfaces") or []
    out = []
    for ip in result.get("ips") or []:
        idx = ip.get("interface")
        if idx is not None and 0 <= idx < len(ifaces) and ifaces[idx].get("name") not in (ifname, None):
            continue
        addr = (ip.get("address") or "").split("/")[0]
        if addr:
            out.append(addr)
    return sorted(out, key=lambda a: ":" in a)
