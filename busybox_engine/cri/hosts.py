"""Per-registry hosts in containerd's certs.d layout (config_path):
DIR/HOST/hosts.toml, else DIR/_default/hosts.toml, says where to pull an
image of HOST from: its [host."URL"] entries in order (mirrors; http://
for plain HTTP, skip_verify for HTTPS without checking the certificate),
then `server` (default: the registry itself). Node setups point
registry.k8s.io at a mirror this way."""
import os
import tomllib
from urllib.parse import urlsplit

from busybox_engine.rpc.errors import InvalidArgument


def _dir_name(domain: str) -> str:
    return "docker.io" if domain in ("docker.io", "registry-1.docker.io") else domain


def _endpoint(url: str, where: str) -> tuple:
    parts = urlsplit(url if "://" in url else "https://" + url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgument(f"{where}: invalid host URL {url!r}")
    return parts.netloc, parts.scheme == "http"


def endpoints(config_path: str, domain: str) -> list | None:
    """[host, plain_http, skip_verify] to try in order; None when no
    hosts.toml speaks of domain."""
    if not config_path:
        return None
    for name in (_dir_name(domain), "_default"):
        path = os.path.join(config_path, name, "hosts.toml")
        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except FileNotFoundError:
            continue
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise InvalidArgument(f"{path}: {e}") from None
        out = []
        for url, opts in (doc.get("host") or {}).items():
            opts = opts if isinstance(opts, dict) else {}
            caps = opts.get("capabilities", ["pull", "resolve"])
            if "pull" not in caps:
                continue
            host, plain = _endpoint(url, path)
            out.append([host, plain, bool(opts.get("skip_verify", False))])
        server = doc.get("server")
        if server:
            host, plain = _endpoint(server, path)
            out.append([host, plain, bool(doc.get("skip_verify", False))])
        elif name != "_default":
            out.append([domain if domain != "docker.io" else "registry-1.docker.io", None, False])
        else:
            out.append([domain, None, False])
        return out
    return None
