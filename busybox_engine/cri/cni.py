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
