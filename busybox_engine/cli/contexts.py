"""Docker contexts as the docker CLI stores them, and where a command
connects: -H, then DOCKER_HOST (unless a context is named), then
--context / DOCKER_CONTEXT / config.json's currentContext, else default.

Layout (the CLI's): CONFIG/contexts/meta/<sha256(name)>/meta.json
{"Name", "Metadata": {"Description"}, "Endpoints": {"docker": {"Host",
"SkipTLSVerify"}}} and CONFIG/contexts/tls/<sha256(name)>/docker/
{ca,cert,key}.pem."""
import os

DEFAULT_HOST = "unix:///run/busybox-engine/docker.sock"


class ContextError(Exception):
    pass


def _dir(config_dir: str, kind: str, name: str) -> str:
    # CPython's own SHA-256: hashlib would load libcrypto (2 MB, ~1 ms) into every command
    from _sha256 import sha256
    return os.path.join(config_dir, "contexts", kind, sha256(name.encode()).hexdigest())


def load(config_dir: str, name: str) -> dict:
    from busybox_engine.cli import fastjson
    try:
        with open(os.path.join(_dir(config_dir, "meta", name), "meta.json"), "rb") as f:
            meta = fastjson.loads(f.read())
    except FileNotFoundError:
        raise ContextError(f"context \"{name}\" does not exist") from None
    except (OSError, ValueError) as e:
        raise ContextError(f"context \"{name}\": {e}") from None
    return meta


def tls_files(config_dir: str, name: str) -> dict:
    d = os.path.join(_dir(config_dir, "tls", name), "docker")
    return {k: os.path.join(d, f"{k}.pem") for k in ("ca", "cert", "key") if os.path.exists(os.path.join(d, f"{k}.pem"))}


def names(config_dir: str) -> list:
    from busybox_engine.cli import fastjson
    root = os.path.join(config_dir, "contexts", "meta")
    out = []
    try:
        entries = os.listdir(root)
    except OSError:
        return out
    for e in entries:
        try:
            with open(os.path.join(root, e, "meta.json"), "rb") as f:
                out.append(fastjson.loads(f.read()))
        except (OSError, ValueError):
            continue
    return sorted(out, key=lambda m: m.get("Name", ""))


def save(config_dir: str, name: str, meta: dict, tls: dict) -> None:
    import json
    d = _dir(config_dir, "meta", name)
    os.makedirs(d, mode=0o755, exist_ok=True)
    with open(os.path.join(d, "meta.json"), "w") as f:
        f.write(json.dumps(meta, separators=(",", ":")))
    if tls:
        t = os.path.join(_dir(config_dir, "tls", name), "docker")
        os.makedirs(t, mode=0o700, exist_ok=True)
        for k, src in tls.items():
            with open(src, "rb") as f:
                data = f.read()
            fd = os.open(os.path.join(t, f"{k}.pem"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)


def remove(config_dir: str, name: str) -> None:
    import shutil
    for kind in ("meta", "tls"):
        shutil.rmtree(_dir(config_dir, kind, name), ignore_errors=True)


def current(config: dict) -> str:
    return os.environ.get("DOCKER_CONTEXT") or config.get("currentContext") or "default"


def env_tls(opts: dict) -> dict | None:
    """TLS from --tls* flags or DOCKER_TLS_VERIFY / DOCKER_CERT_PATH."""
    cert_path = os.environ.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")
    verify = bool(opts.get("tlsverify")) or bool(os.environ.get("DOCKER_TLS_VERIFY"))
    if not (verify or opts.get("tls")):
        return None
    files = {"ca": opts.get("tlscacert") or os.path.join(cert_path, "ca.pem"),
             "cert": opts.get("tlscert") or os.path.join(cert_path, "cert.pem"),
             "key": opts.get("tlskey") or os.path.join(cert_path, "key.pem")}
    tls = {k: f for k, f in files.items() if os.path.exists(f)}
    tls["verify"] = verify
    return tls


def resolve(opts: dict, config: dict, config_dir: str) -> tuple:
    """(host, tls) for this command line."""
    named = opts.get("context") or os.environ.get("DOCKER_CONTEXT")
    if opts.get("host"):
        if opts.get("context"):
            raise ContextError("Conflicting options: either specify --host or --context, not both")
        return opts["host"], env_tls(opts)
    if os.environ.get("DOCKER_HOST") and not named:
        return os.environ["DOCKER_HOST"], env_tls(opts)
    name = named or config.get("currentContext") or "default"
    if name == "default":
        return os.environ.get("DOCKER_HOST") or DEFAULT_HOST, env_tls(opts)
    meta = load(config_dir, name)
    ep = (meta.get("Endpoints") or {}).get("docker") or {}
    files = tls_files(config_dir, name)
    tls = None
    if files or ep.get("SkipTLSVerify"):
        tls = dict(files, verify=not ep.get("SkipTLSVerify"))
    return ep.get("Host") or DEFAULT_HOST, tls
