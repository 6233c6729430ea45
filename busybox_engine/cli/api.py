"""The docker client's link to the daemon: the Engine API over a unix
socket, its version agreed through /_ping as the real client does."""
import os

from busybox_engine.cli import fastjson as json

from busybox_engine.cli.http import ConnectError, UnixHTTPClient

CLIENT_API_VERSION = "1.41"
DEFAULT_HOST = "unix:///run/busybox-engine/docker.sock"


class DaemonError(Exception):
    """The daemon answered with an error: printed as Docker prints it."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class StreamError(Exception):
    """An error the daemon told inside a streamed answer (pull, push, load):
    printed as it is."""


def error_text(e: DaemonError, kind: str, name: str) -> str:
    """As the Go client words an error of a call that names its object
    (rm, rmi, volume rm...): a 404 is its own "Error: No such KIND: NAME",
    the rest the daemon's message."""
    return f"Error: No such {kind}: {name}" if e.status == 404 else f"Error response from daemon: {e.message}"


class NoDaemon(Exception):
    def __init__(self, host: str):
        super().__init__(f"Cannot connect to the Docker daemon at {host}. Is the docker daemon running?")


def _vtuple(v: str) -> tuple:
    try:
        return tuple(int(x) for x in v.split("."))
    except ValueError:
        return (0,)


class API:
    def __init__(self, host: str, tls: dict | None = None):
        if not host.startswith(("unix://", "tcp://")):
            raise NoDaemon(host)
        self.host = host
        self.tls = tls
        self.http = UnixHTTPClient(host, tls=tls)
        self.version = os.environ.get("DOCKER_API_VERSION") or None

    def close(self) -> None:
        self.http.close()

    def _negotiate(self) -> str:
        if self.version is None:
            resp = self._raw("GET", "/_ping")
            server = resp.headers.get("api-version", "")
            self.version = CLIENT_API_VERSION
            if server and _vtuple(server) < _vtuple(CLIENT_API_VERSION):
                self.version = server
        return self.version

    def _raw(self, method: str, path: str, body=None, headers=None):
        try:
            return self.http.request(method, path, body=body, headers=headers)
        except (ConnectError, OSError):
            raise NoDaemon(self.host) from None

    def _call(self, method: str, path: str, query, body, headers, stream: bool):
        url = f"/v{self._negotiate()}{path}"
        if query:
            q = {k: v for k, v in query.items() if v is not None and v != []}
            if q:
                url += "?" + urlencode(q, doseq=True)   # a list: the key repeated
        try:
            send = self.http.stream if stream else self.http.request
            resp = send(method, url, body=body, headers=headers)
        except (ConnectError, OSError):
            raise NoDaemon(self.host) from None
        if resp.status >= 400:
            raise DaemonError(resp.status, resp.error_message())
        return resp

    def request(self, method: str, path: str, query: dict | None = None, body=None, headers=None):
        """The response; DaemonError for an error status."""
        return self._call(method, path, query, body, headers, stream=False)

    def stream(self, method: str, path: str, query: dict | None = None, body=None, headers=None):
        """The response with .chunks to read as they come; DaemonError for
        an error status."""
        return self._call(method, path, query, body, headers, stream=True)

    def get(self, path: str, query: dict | None = None):
        return self.request("GET", path, query).json()

    def post(self, path: str, query: dict | None = None, body=None):
        return self.request("POST", path, query, body=body)

    def delete(self, path: str, query: dict | None = None):
        return self.request("DELETE", path, query)


_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(text: str, safe: str = "") -> str:
    """Percent-encoding as urllib.parse.quote (which imports re and more)."""
    ok = _SAFE | frozenset(safe.encode())
    return "".join(chr(b) if b in ok else f"%{b:02X}" for b in str(text).encode("utf-8"))


def urlencode(query: dict, doseq: bool = True) -> str:
    """key=value&... with values quoted as forms are ("+" for spaces is
    not needed: %20 reads the same); a list value repeats its key."""
    parts = []
    for k, v in query.items():
        for item in (v if isinstance(v, (list, tuple)) else (v,)):
            parts.append(f"{quote(k)}={quote(item)}")
    return "&".join(parts)


def q(name: str) -> str:
    """A path segment (an image reference keeps its slashes and colons)."""
    return quote(name, safe="/:@")


def filters_json(filters: list) -> str | None:
    """`-f key=value` flags as the API's filters: {"key": {"value": true}}."""
    if not filters:
        return None
    out = {}
    for f in filters:
        if "=" not in f:
            raise ValueError("bad format of filter (expected name=value)")
        k, v = f.split("=", 1)
        out.setdefault(k.strip().lower(), {})[v] = True
    return json.dumps(out)
