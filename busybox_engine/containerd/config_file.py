"""containerd's config file (`containerd --config FILE`, TOML), for the
settings we share with Go containerd: root, state, the gRPC address and the
CRI plugin's. Both of its layouts are read: version 2 (containerd 1.x,
everything under plugins."io.containerd.grpc.v1.cri") and version 3
(containerd 2.x, split into cri.v1.runtime and cri.v1.images). A flag
given on the command line wins over the file; other keys are ignored, as
they configure what we do not have."""

CRI_V2 = "io.containerd.grpc.v1.cri"
RUNTIME_V3 = "io.containerd.cri.v1.runtime"
IMAGES_V3 = "io.containerd.cri.v1.images"


class ConfigError(Exception):
    pass


def load(path: str) -> dict:
    """The settings the file gives, by our flags' names: address, root,
    state, cri_cni_conf_dir, cri_cni_bin_dir (a list),
    cri_registry_config_path, cri_sandbox_image, cri_stream_address."""
    import tomllib
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"failed to load config file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"failed to load config file {path}: {e}") from None
    out = {}
    for key in ("root", "state"):
        _put(out, key, doc, (key,), str)
    _put(out, "address", doc, ("grpc", "address"), str)
    plugins = _table(doc, ("plugins",))
    v2 = _table(plugins, (CRI_V2,))
    runtime, images = _table(plugins, (RUNTIME_V3,)), _table(plugins, (IMAGES_V3,))
    for cni in (_table(v2, ("cni",)), _table(runtime, ("cni",))):
        _put(out, "cri_cni_conf_dir", cni, ("conf_dir",), str)
        _put(out, "cri_cni_bin_dir", cni, ("bin_dir",), str)
        _put(out, "cri_cni_bin_dir", cni, ("bin_dirs",), list)
    _put(out, "cri_sandbox_image", v2, ("sandbox_image",), str)
    _put(out, "cri_sandbox_image", images, ("pinned_images", "sandbox"), str)
    _put(out, "cri_registry_config_path", v2, ("registry", "config_path"), str)
    _put(out, "cri_registry_config_path", images, ("registry", "config_path"), str)
    # both layouts keep the streaming server in the grpc.v1.cri plugin
    address = _get(v2, ("stream_server_address",), str)
    port = _get(v2, ("stream_server_port",), str)
    if address or port:
        out["cri_stream_address"] = f"{address or '127.0.0.1'}:{port}" if port else address
    if isinstance(out.get("cri_cni_bin_dir"), str):
        out["cri_cni_bin_dir"] = [out["cri_cni_bin_dir"]]
    for d in out.get("cri_cni_bin_dir", []):
        if not isinstance(d, str):
            raise ConfigError(f"{path}: cni bin_dirs must be a list of strings")
    return out


def _table(doc: dict, keys: tuple) -> dict:
    for k in keys:
        doc = doc.get(k)
        if doc is None:
            return {}
        if not isinstance(doc, dict):
            raise ConfigError(f"config: {'.'.join(keys)} must be a table")
    return doc


def _get(doc: dict, keys: tuple, kind: type):
    table = _table(doc, keys[:-1])
    value = table.get(keys[-1])
    if value is None:
        return None
    if not isinstance(value, kind):
        raise ConfigError(f"config: {'.'.join(keys)} must be a {'string' if kind is str else 'list'}")
    return value


def _put(out: dict, name: str, doc: dict, keys: tuple, kind: type) -> None:
    value = _get(doc, keys, kind)
    if value not in (None, "", []):
        out[name] = value
