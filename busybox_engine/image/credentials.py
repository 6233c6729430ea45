"""Registry credentials where `docker login` leaves them: the `auths` of
$DOCKER_CONFIG/config.json (default ~/.docker/config.json), or a credential
helper (`credHelpers` per registry, `credsStore` for all) spoken to with the
docker-credential-* protocol: the server URL on stdin, JSON on stdout."""
import base64
import json
import os
import subprocess

DOCKER_HUB_KEY = "https://index.docker.io/v1/"


def config_path() -> str:
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def load_config(path: str | None = None) -> dict:
    try:
        with open(path or config_path()) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def server_key(domain: str) -> str:
    return DOCKER_HUB_KEY if domain in ("docker.io", "index.docker.io", "registry-1.docker.io") else domain


def _from_helper(helper: str, server: str) -> tuple | None:
    try:
        r = subprocess.run([f"docker-credential-{helper}", "get"], input=server, capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None  # "credentials not found in native keychain"
    try:
        doc = json.loads(r.stdout)
        user, secret = doc.get("Username"), doc.get("Secret")
    except (ValueError, AttributeError):
        return None
    return (user, secret) if isinstance(user, str) and isinstance(secret, str) and secret else None


def lookup(domain: str, config: dict | None = None) -> tuple | None:
    """(user, password) for a registry domain, or None."""
    config = load_config() if config is None else config
    key = server_key(domain)
    helpers = config.get("credHelpers")
    helpers = helpers if isinstance(helpers, dict) else {}
    helper = helpers.get(key) or helpers.get(domain)
    if helper or config.get("credsStore"):
        found = _from_helper(helper or config["credsStore"], key)
        if found:
            return found
    auths = config.get("auths") or {}
    if not isinstance(auths, dict):
        return None
    for k in (key, domain, f"https://{domain}", f"http://{domain}"):
        entry = auths.get(k)
        if not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            if user and password:
                return user, password
        if entry.get("username") and entry.get("password"):
            return entry["username"], entry["password"]
    return None
