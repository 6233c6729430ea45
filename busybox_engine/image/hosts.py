"""Which endpoints serve a registry, configured as dockerd's daemon.json
does it: `insecure-registries` (hosts or CIDRs spoken to over plain HTTP when
HTTPS fails; 127.0.0.0/8 and localhost always are, as in Docker) and
`registry-mirrors` (URLs tried first for Docker Hub images)."""
import ipaddress
import json
from dataclasses import dataclass, field

from busybox_engine.rpc.errors import InvalidArgument


@dataclass
class RegistryHosts:
    insecure: list = field(default_factory=list)   # "host[:port]" or CIDR strings
    mirrors: list = field(default_factory=list)    # "http(s)://host[:port]"

    @classmethod
    def load(cls, path: str) -> "RegistryHosts":
        """From a daemon.json-shaped file ({} if there is none)."""
        if not path:
            return cls()
        try:
            with open(path) as f:
                doc = json.load(f)
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as e:
            raise InvalidArgument(f"registry configuration {path}: {e}") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"registry configuration {path}: not a JSON object")
        insecure, mirrors = doc.get("insecure-registries") or [], doc.get("registry-mirrors") or []
        if not all(isinstance(x, str) for x in insecure + mirrors):
            raise InvalidArgument(f"registry configuration {path}: lists of strings expected")
        for m in mirrors:
            if not m.startswith(("http://", "https://")):
                raise InvalidArgument(f"invalid mirror {m!r}: it must start with http:// or https://")
        return cls(list(insecure), [m.rstrip("/") for m in mirrors])

    def is_insecure(self, domain: str) -> bool:
        if domain.startswith("["):  # [v6]:port
            host = domain[1:].split("]", 1)[0]
        else:
            host = domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain
        if host == "localhost" or domain in self.insecure or host in self.insecure:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        if ip.is_loopback:
            return True
        for entry in self.insecure:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def endpoints(self, domain: str) -> list:
        """(host, plain_http or None for "https, then http if insecure")
        to try in order for a registry domain."""
        out = []
        if domain == "docker.io":
            for m in self.mirrors:
                scheme, _, host = m.partition("://")
                out.append((host, scheme == "http"))
        out.append((domain, None))
        return out
