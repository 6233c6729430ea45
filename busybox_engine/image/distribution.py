"""A client of the OCI distribution API (what Docker registries serve).

/v2/ ping, manifests by tag or digest, blobs streamed into the content
store (digest and size checked as they arrive), and the auth flows Docker
uses: anonymous, Basic, and Bearer tokens fetched from the realm a 401's
WWW-Authenticate names, cached per scope until they expire. Blocking
(http.client): pulls run it in worker threads, one connection each.
"""
import base64
import hashlib
import http.client
import json
import re
import threading
import time
import urllib.parse

from busybox_engine.rpc.errors import (FailedPrecondition, InvalidArgument, NotFound, RPCError,
                                       Unauthenticated, Unavailable)

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_LIST, OCI_INDEX)
ACCEPT = ", ".join(MANIFEST_TYPES + INDEX_TYPES)
MAX_MANIFEST = 4 << 20  # distribution's own limit on a manifest
CHUNK = 1 << 20
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def registry_host(domain: str) -> str:
    return "registry-1.docker.io" if domain == "docker.io" else domain


class Registry:
    """One registry (domain), optionally over plain HTTP, with optional
    credentials (user, password) or an identity token."""

    def __init__(self, domain: str, plain_http: bool = False, credentials: tuple | None = None,
                 timeout: float = 60, host: str = "", insecure: bool = False, skip_verify: bool = False):
        self.domain = domain
        self.skip_verify = skip_verify   # HTTPS without checking the certificate (hosts.toml skip_verify)
        self.host = host or registry_host(domain)  # a mirror serves the domain from elsewhere
        self.plain_http = plain_http
        self.insecure = insecure  # HTTPS first, plain HTTP if that fails (Docker's insecure-registries)
        self.credentials = credentials
        self.timeout = timeout
        self._tokens = {}  # scope -> (token, expires at)
        self._lock = threading.Lock()
        self._local = threading.local()  # a keep-alive connection per thread

    # --- HTTP ----------------------------------------------------------------------

    def _connection(self, host: str, plain: bool) -> http.client.HTTPConnection:
        conns = self._local.__dict__.setdefault("conns", {})
        conn = conns.get((host, plain))
        if conn is None:
            if plain:
                conn = http.client.HTTPConnection(host, timeout=self.timeout)
            elif self.skip_verify:
                import ssl
                conn = http.client.HTTPSConnection(host, timeout=self.timeout,
                                                   context=ssl._create_unverified_context())
            else:
                conn = http.client.HTTPSConnection(host, timeout=self.timeout)
            conns[(host, plain)] = conn
        return conn

    def _drop(self, host: str, plain: bool) -> None:
        conn = self._local.__dict__.get("conns", {}).pop((host, plain), None)
        if conn is not None:
            conn.close()

    def _raw(self, method: str, url: str, headers: dict, body: bytes | None = None):
        """One request to an absolute or registry-relative URL, redirects
        followed (without our credentials to other hosts)."""
        host, plain, target = self.host, self.plain_http, url
        for _ in range(6):
            if target.startswith(("http://", "https://")):
                u = urllib.parse.urlsplit(target)
                if (u.netloc, u.scheme == "http") != (self.host, self.plain_http):
                    headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                host, plain = u.netloc, u.scheme == "http"
                target = urllib.parse.urlunsplit(("", "", u.path or "/", u.query, ""))
            for attempt in (0, 1):  # a kept-alive connection the server closed: once more
                conn = self._connection(host, plain)
                try:
                    conn.request(method, target, body=body, headers=headers)
                    resp = conn.getresponse()
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    self._drop(host, plain)
                    if attempt:
                        raise
                except OSError as e:
                    self._drop(host, plain)
                    raise Unavailable(f"{self.domain}: {e.strerror or e}") from None
            if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                resp.read()
                target = urllib.parse.urljoin(f"{'http' if plain else 'https'}://{host}{target}",
                                              resp.getheader("Location"))
                continue
            return resp
        raise Unavailable(f"{self.domain}: too many redirects")

    def request(self, method: str, path: str, scope: str, headers: dict | None = None,
                body: bytes | None = None):
        """A request under /v2/, authenticated as the registry asks."""
        headers = dict(headers or {})
        auth = self._cached_auth(scope)
        if auth:
            headers["Authorization"] = auth
        try:
            resp = self._raw(method, path, headers, body)
        except Unavailable:
            if not self.insecure or self.plain_http:
                raise
            self.plain_http = True  # an insecure registry that does not speak TLS
            resp = self._raw(method, path, headers, body)
        if resp.status == 401:
            challenge = resp.getheader("WWW-Authenticate") or ""
            resp.read()
            headers["Authorization"] = self._authenticate(challenge, scope)
            resp = self._raw(method, path, headers, body)
            if resp.status == 401:
                resp.read()
                raise Unauthenticated(f"{self.domain}: authentication required"
                                      + ("" if self.credentials else " (no credentials given)"))
        return resp

    # --- auth ------------------------------------------------------------------------

    def _basic(self) -> str:
        user, password = self.credentials
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _cached_auth(self, scope: str) -> str:
        with self._lock:
            token = self._tokens.get(scope)
        if token and token[1] > time.monotonic():
            return token[0]
        return ""

    def _authenticate(self, challenge: str, scope: str) -> str:
        kind = challenge.split(" ", 1)[0].lower()
        if kind == "basic":
            if not self.credentials:
                raise Unauthenticated(f"{self.domain}: authentication required (no credentials given)")
            auth = self._basic()
            with self._lock:
                self._tokens[scope] = (auth, time.monotonic() + 3600)
            return auth
        if kind != "bearer":
            raise Unauthenticated(f"{self.domain}: unsupported authentication {challenge!r}")
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.get("realm")
        if not realm or not realm.startswith(("http://", "https://")):
            raise Unauthenticated(f"{self.domain}: bad token realm in {challenge!r}")
        query = [("service", params.get("service", ""))] + [("scope", one) for one in scope.split()]
        u = urllib.parse.urlsplit(realm)
        url = urllib.parse.urlunsplit((u.scheme, u.netloc, u.path, urllib.parse.urlencode(query), ""))
        headers = {"Authorization": self._basic()} if self.credentials else {}
        token_client = Registry(u.netloc, plain_http=u.scheme == "http", timeout=self.timeout)
        resp = token_client._raw("GET", url, headers)
        data = resp.read(1 << 20)
        if resp.status == 401:
            raise Unauthenticated(f"{self.domain}: the token server refused the credentials")
        if resp.status != 200:
            raise Unauthenticated(f"{self.domain}: token server answered {resp.status}")
        try:
            doc = json.loads(data)
            token = doc.get("token") or doc.get("access_token")
            expires = int(doc.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            raise Unauthenticated(f"{self.domain}: the token server sent no token")
        auth = "Bearer " + token
        with self._lock:
            self._tokens[scope] = (auth, time.monotonic() + max(10, expires - 5))
        return auth

    # --- API -------------------------------------------------------------------------

    def ping(self) -> None:
        resp = self.request("GET", "/v2/", "")
        resp.read()
        if resp.status != 200:
            raise Unavailable(f"{self.domain}: /v2/ answered {resp.status}")

    def manifest(self, repo: str, reference: str) -> tuple:
        """(body, media type, digest) of a manifest or index by tag or
        digest; the digest is checked when we asked by one, and against the
        registry's Docker-Content-Digest when it sends one."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{reference}", f"repository:{repo}:pull",
                            {"Accept": ACCEPT})
        body = resp.read(MAX_MANIFEST + 1)
        if resp.status == 404:
            raise NotFound(f"{self.domain}/{repo}:{reference}: not found")
        if resp.status != 200:
            raise _status_error(self.domain, resp.status, body)
        if len(body) > MAX_MANIFEST:
            raise InvalidArgument(f"{self.domain}/{repo}: manifest larger than {MAX_MANIFEST} bytes")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        claimed = resp.getheader("Docker-Content-Digest")
        if reference.startswith("sha256:") and digest != reference:
            raise FailedPrecondition(f"manifest digest mismatch: asked for {reference}, got {digest}")
        if claimed and claimed.startswith("sha256:") and claimed != digest:
            raise FailedPrecondition(f"manifest digest mismatch: registry says {claimed}, content is {digest}")
        media = (resp.getheader("Content-Type") or "").split(";")[0].strip()
        try:
            doc = json.loads(body)
        except ValueError:
            raise InvalidArgument(f"{self.domain}/{repo}: manifest is not JSON") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"{self.domain}/{repo}: manifest is not a JSON object")
        return body, doc.get("mediaType") or media, digest

    def fetch_blob(self, repo: str, digest: str, writer) -> None:
        """Stream a blob into a content writer (which checks size and
        digest); a dropped connection resumes with a Range request."""
        tries = 0
        while True:
            headers = {"Range": f"bytes={writer.written}-"} if writer.written else {}
            resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", f"repository:{repo}:pull", headers)
            if resp.status == 404:
                resp.read()
                raise NotFound(f"{self.domain}/{repo}: blob {digest} not found")
            if resp.status == 200 and writer.written:
                writer.restart()  # no ranges here: from the start again
            elif resp.status not in (200, 206):
                raise _status_error(self.domain, resp.status, resp.read(4096))
            try:
                while True:
                    chunk = resp.read1(CHUNK)
                    if not chunk:
                        break
                    writer.write(chunk)
                resp.read()  # read1 leaves a finished response open: close it for the next request
                if writer.size is None or writer.written >= writer.size:
                    return
                raise ConnectionResetError("short read")
            except (OSError, http.client.HTTPException) as e:
                self._drop(self.host, self.plain_http)
                tries += 1
                if tries > 3:
                    raise Unavailable(f"{self.domain}: blob {digest}: {e}") from None


    # --- push ----------------------------------------------------------------------

    def blob_exists(self, repo: str, digest: str, scope: str) -> bool:
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope)
        resp.read()
        return resp.status == 200

    def mount_blob(self, repo: str, digest: str, source_repo: str, scope: str) -> str | None:
        """Cross-repository mount: True-ish (None) when the registry linked
        the blob; else the upload URL it opened instead."""
        q = urllib.parse.urlencode({"mount": digest, "from": source_repo})
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/?{q}", scope)
        resp.read()
        if resp.status == 201:
            return None
        if resp.status != 202:
            raise _status_error(self.domain, resp.status, b"")
        return resp.getheader("Location")

    def start_upload(self, repo: str, scope: str) -> str:
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope)
        body = resp.read()
        if resp.status != 202 or not resp.getheader("Location"):
            raise _status_error(self.domain, resp.status, body)
        return resp.getheader("Location")

    def upload_blob(self, location: str, digest: str, size: int, read_at, scope: str,
                    chunk: int = 0) -> None:
        """Upload size bytes (read_at(offset, n) gives them) to an upload
        location: in one PUT, or in PATCHes of `chunk` bytes and a closing PUT."""
        if not chunk or size <= chunk:
            resp = self.request("PUT", _with_query(location, digest=digest), scope,
                                {"Content-Type": "application/octet-stream",
                                 "Content-Length": str(size)}, read_at(0, size))
        else:
            offset = 0
            while offset < size:
                data = read_at(offset, min(chunk, size - offset))
                resp = self.request("PATCH", location, scope, {
                    "Content-Type": "application/octet-stream", "Content-Length": str(len(data)),
                    "Content-Range": f"{offset}-{offset + len(data) - 1}"}, data)
                body = resp.read()
                if resp.status != 202:
                    raise _status_error(self.domain, resp.status, body)
                location = resp.getheader("Location") or location
                offset += len(data)
            resp = self.request("PUT", _with_query(location, digest=digest), scope,
                                {"Content-Length": "0"}, b"")
        body = resp.read()
        if resp.status != 201:
            raise _status_error(self.domain, resp.status, body)

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        scope = f"repository:{repo}:pull,push"
        resp = self.request("PUT", f"/v2/{repo}/manifests/{reference}", scope,
                            {"Content-Type": media_type}, body)
        data = resp.read()
        if resp.status != 201:
            raise _status_error(self.domain, resp.status, data)
        return resp.getheader("Docker-Content-Digest") or ""

    def tags(self, repo: str) -> list:
        resp = self.request("GET", f"/v2/{repo}/tags/list", f"repository:{repo}:pull")
        body = resp.read(MAX_MANIFEST)
        if resp.status == 404:
            raise NotFound(f"{self.domain}/{repo}: repository not found")
        if resp.status != 200:
            raise _status_error(self.domain, resp.status, body)
        try:
            return list(json.loads(body).get("tags") or [])
        except (ValueError, AttributeError):
            raise InvalidArgument(f"{self.domain}/{repo}: bad tag list") from None


def _with_query(url: str, **params) -> str:
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)


def _status_error(domain: str, status: int, body: bytes) -> RPCError:
    try:
        errors = json.loads(body).get("errors") or []
        detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    except (ValueError, AttributeError):
        detail = ""
    msg = f"{domain}: HTTP {status}" + (f" ({detail})" if detail else "")
    if status in (401, 403):
        return Unauthenticated(msg)
    if status == 404:
        return NotFound(msg)
    return Unavailable(msg)
