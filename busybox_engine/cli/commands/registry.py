"""docker pull, push, login and logout, with the credentials of the
docker config file (auths, credsStore, credHelpers) as the CLI keeps them."""
import base64
import os
import subprocess
import sys

from busybox_engine.cli.api import StreamError, q
from busybox_engine.cli import fastjson as json
from busybox_engine.cli.flags import Command, Flag

INDEX = "https://index.docker.io/v1/"


def split_ref(ref: str) -> tuple:
    """(name, tag or digest, tagged?) of an image reference."""
    name, at, digest = ref.partition("@")
    if at:
        return name, digest, False
    head, sep, tail = name.rpartition(":")
    if sep and "/" not in tail:
        return head, tail, True
    return name, "", True


def registry_of(name: str) -> str:
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        return first
    return INDEX


def full_name(name: str) -> str:
    """docker.io/library/busybox for busybox, as the CLI prints it."""
    if registry_of(name) != INDEX:
        return name
    if name.startswith("docker.io/"):
        name = name[len("docker.io/"):]
    return "docker.io/" + (name if "/" in name else "library/" + name)


# --- credentials ------------------------------------------------------------------------

def _config_path(ctx) -> str:
    return os.path.join(ctx.config_dir, "config.json")


def _helper(ctx, server: str) -> str:
    cfg = ctx.config
    return (cfg.get("credHelpers") or {}).get(server) or cfg.get("credsStore") or ""


def credentials(ctx, server: str) -> dict:
    """{username, password, serveraddress} for server, or {}."""
    helper = _helper(ctx, server)
    if helper:
        try:
            r = subprocess.run([f"docker-credential-{helper}", "get"], input=server, capture_output=True,
                               text=True, timeout=30)
            if r.returncode == 0:
                got = json.loads(r.stdout)
                return {"username": got.get("Username", ""), "password": got.get("Secret", ""),
                        "serveraddress": server}
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        return {}
    entry = (ctx.config.get("auths") or {}).get(server) or {}
    if entry.get("auth"):
        try:
            user, _, pw = base64.b64decode(entry["auth"]).decode().partition(":")
        except ValueError:
            return {}
        return {"username": user, "password": pw, "serveraddress": server}
    if entry.get("identitytoken"):
        return {"identitytoken": entry["identitytoken"], "serveraddress": server}
    return {}


def auth_header(ctx, name: str) -> dict:
    creds = credentials(ctx, registry_of(name))
    if not creds:
        return {}
    return {"X-Registry-Auth": base64.urlsafe_b64encode(json.dumps(creds).encode()).decode()}


def _save_config(ctx, cfg: dict) -> None:
    path = _config_path(ctx)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    import json as stdjson   # indented, as docker writes the file
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(stdjson.dumps(cfg, indent="\t") + "\n")
    os.replace(tmp, path)


# --- progress ---------------------------------------------------------------------------

def lines(chunks):
    """The lines of a streamed answer, as its chunks bring them (the last
    one even without its newline)."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line
    if buf.strip():
        yield buf


def print_messages(chunks, out) -> None:
    """The daemon's JSON messages as the docker CLI prints them: on a
    terminal each layer's line redrawn in place, else plain lines; an
    error message ends it as an error."""
    term = _Terminal(out) if getattr(out, "isatty", lambda: False)() else None
    for line in lines(chunks):
        if term is None:
            _one(line, out)
        else:
            term.show(line)


class _Terminal:
    """jsonmessage's terminal display: a line per layer id, the cursor
    moved up to redraw it and back down after."""

    def __init__(self, out):
        self.out = out
        self.ids = {}

    def show(self, line: bytes) -> None:
        msg = _message(line)
        if msg is None:
            return
        out = self.out
        ident = msg.get("id") or ""
        progress = msg.get("progressDetail") is not None and not msg.get("stream")
        diff = 0
        if ident and progress:
            if ident not in self.ids:
                self.ids[ident] = len(self.ids)
                out.write("\n")
            diff = len(self.ids) - self.ids[ident]
            out.write(f"\x1b[{diff}A")
        else:
            self.ids = {}
        text = f"{ident}: " if ident else ""
        if progress:
            out.write("\x1b[2K\r" + text + f"{msg.get('status') or ''} {msg.get('progress') or ''}".rstrip() + "\r")
        elif msg.get("stream"):
            out.write(text + msg["stream"])
        else:
            out.write(text + (msg.get("status") or "") + "\n")
        if ident and progress:
            out.write(f"\x1b[{diff}B")
        out.flush()


def _message(line: bytes):
    """One JSON message line: the message, None for nothing to show (blank,
    unreadable, or aux for programs such as the pushed digest); an error
    message raises StreamError."""
    line = line.strip()
    if not line:
        return None
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    if msg.get("errorDetail") or msg.get("error"):
        raise StreamError((msg.get("errorDetail") or {}).get("message") or msg.get("error"))
    return None if msg.get("aux") is not None else msg


def _one(line: bytes, out) -> None:
    msg = _message(line)
    if msg is None:
        return
    detail = msg.get("progressDetail") or {}
    if detail.get("current") or detail.get("total"):
        return          # bars are for terminals
    text = ""
    if msg.get("id"):
        text += f"{msg['id']}: "
    if msg.get("stream"):
        out.write(text + msg["stream"])
    else:
        out.write(text + (msg.get("status") or "") + "\n")
    out.flush()


def show_stream(ctx, method: str, path: str, query: dict, out, **kw) -> int:
    """A streamed answer of JSON messages shown on out (its errors, the
    daemon's refusal or one in the stream, are main's to print)."""
    print_messages(ctx.api.stream(method, path, query, **kw).chunks, out)
    return 0


class _Null:
    def write(self, _):
        pass

    def flush(self):
        pass


# --- commands ---------------------------------------------------------------------------

PULL = Command("docker pull", "docker pull [OPTIONS] NAME[:TAG|@DIGEST]",
               "Pull an image or a repository from a registry", exact_args=1, flags=[
                   Flag("all-tags", short="a", help="Download all tagged images in the repository"),
                   Flag("disable-content-trust", default=True, help="Skip image verification"),
                   Flag("platform", "string", help="Set platform if server is multi-platform capable"),
                   Flag("quiet", short="q", help="Suppress verbose output"),
               ])


def pull(ctx, v, args) -> int:
    ref = args[0]
    name, tag, tagged = split_ref(ref)
    if v.all_tags and tag:
        sys.stderr.write("tag can't be used with --all-tags/-a\n")
        return 1
    if not tag and not v.all_tags:
        sys.stdout.write("Using default tag: latest\n")
        tag = "latest"
    query = {"fromImage": name, "tag": tag or None, "platform": v.platform or None}
    if show_stream(ctx, "POST", "/images/create", query, _Null() if v.quiet else sys.stdout,
                   headers=auth_header(ctx, name)):
        return 1
    if v.all_tags:
        sys.stdout.write(full_name(name) + "\n")
    else:
        sep = ":" if tagged else "@"
        sys.stdout.write(f"{full_name(name)}{sep}{tag}\n")
    return 0


PUSH = Command("docker push", "docker push [OPTIONS] NAME[:TAG]", "Push an image or a repository to a registry",
               exact_args=1, flags=[
                   Flag("all-tags", short="a", help="Push all tagged images in the repository"),
                   Flag("disable-content-trust", default=True, help="Skip image signing"),
                   Flag("quiet", short="q", help="Suppress verbose output"),
               ])


def push(ctx, v, args) -> int:
    name, tag, _tagged = split_ref(args[0])
    if show_stream(ctx, "POST", f"/images/{q(name)}/push", {"tag": tag or None},
                   _Null() if v.quiet else sys.stdout,
                   headers=auth_header(ctx, name) or {"X-Registry-Auth": "e30="}):
        return 1
    if v.quiet:
        sys.stdout.write(args[0] + "\n")
    return 0


LOGIN = Command("docker login", "docker login [OPTIONS] [SERVER]",
                "Log in to a Docker registry",
                long="Log in to a Docker registry.\nIf no server is specified, the default is defined by the daemon.",
                max_args=1, flags=[
                    Flag("password", "string", short="p", help="Password"),
                    Flag("password-stdin", help="Take the password from stdin"),
                    Flag("username", "string", short="u", help="Username"),
                ])


def login(ctx, v, args) -> int:
    server = args[0] if args else INDEX
    for prefix in ("http://", "https://"):
        if server.startswith(prefix) and server != INDEX:
            server = server[len(prefix):].rstrip("/")
    password = v.password
    if v.password_stdin:
        if v.password:
            sys.stderr.write("--password and --password-stdin are mutually exclusive\n")
            return 1
        if not v.username:
            sys.stderr.write("Must provide --username with --password-stdin\n")
            return 1
        password = sys.stdin.read().rstrip("\r\n")
    elif v.password:
        sys.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    user = v.username
    if not user or not password:
        sys.stderr.write("Error: Cannot perform an interactive login from a non TTY device\n")
        return 1
    r = ctx.api.post("/auth", body={"username": user, "password": password, "serveraddress": server})
    result = r.json() or {}
    cfg = dict(ctx.config)
    entry = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    if result.get("IdentityToken"):
        entry = {"identitytoken": result["IdentityToken"]}
    helper = _helper(ctx, server)
    if helper:
        try:
            subprocess.run([f"docker-credential-{helper}", "store"], check=True, timeout=30, capture_output=True,
                           input=json.dumps({"ServerURL": server, "Username": user, "Secret": password}), text=True)
        except (OSError, subprocess.SubprocessError) as e:
            sys.stderr.write(f"Error saving credentials: {e}\n")
            return 1
        cfg.setdefault("auths", {})[server] = {}
    else:
        cfg.setdefault("auths", {})[server] = entry
        sys.stdout.write(f"WARNING! Your password will be stored unencrypted in {_config_path(ctx)}.\n"
                         "Configure a credential helper to remove this warning. See\n"
                         "https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n")
    _save_config(ctx, cfg)
    sys.stdout.write((result.get("Status") or "Login Succeeded") + "\n")
    return 0


LOGOUT = Command("docker logout", "docker logout [SERVER]",
                 "Log out from a Docker registry",
                 long="Log out from a Docker registry.\nIf no server is specified, the default is defined by the daemon.",
                 max_args=1)


def logout(ctx, v, args) -> int:
    server = args[0] if args else INDEX
    cfg = dict(ctx.config)
    auths = cfg.get("auths") or {}
    if server not in auths and not _helper(ctx, server):
        sys.stdout.write(f"Not logged in to {server}\n")
        return 0
    sys.stdout.write(f"Removing login credentials for {server}\n")
    helper = _helper(ctx, server)
    if helper:
        subprocess.run([f"docker-credential-{helper}", "erase"], input=server, text=True, capture_output=True)
    auths.pop(server, None)
    cfg["auths"] = auths
    _save_config(ctx, cfg)
    return 0


SEARCH = Command("docker search", "docker search [OPTIONS] TERM", "Search the Docker Hub for images", exact_args=1,
                 flags=[
                     Flag("filter", "filter", short="f", help="Filter output based on conditions provided"),
                     Flag("format", "string", help="Pretty-print search using a Go template"),
                     Flag("limit", "int", default=25, help="Max number of search results"),
                     Flag("no-trunc", help="Don't truncate output"),
                 ])


class SearchRow:
    def __init__(self, r: dict, trunc: bool):
        self.r = r
        self.trunc = trunc

    def Name(self):
        return self.r.get("name", "")

    def Description(self):
        from busybox_engine.cli.output import ellipsis
        d = (self.r.get("description") or "").replace("\n", " ")
        return ellipsis(d, 45) if self.trunc else d

    def StarCount(self):
        return str(self.r.get("star_count", 0))

    def IsOfficial(self):
        return "[OK]" if self.r.get("is_official") else ""

    def IsAutomated(self):
        return "[OK]" if self.r.get("is_automated") else ""


def search(ctx, v, args) -> int:
    from busybox_engine.cli.api import filters_json
    from busybox_engine.cli.output import parse_format
    fmt = v.format or "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}\t{{.IsAutomated}}"
    formatter = parse_format(fmt, {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS",
                                   "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED"})
    results = ctx.api.get("/images/search", {"term": args[0], "limit": str(v.limit),
                                             "filters": filters_json(v.filter)}) or []
    sys.stdout.write(formatter.render([SearchRow(r, not v.no_trunc) for r in results]))
    return 0


SPECS = {"search": (SEARCH, search), "pull": (PULL, pull), "push": (PUSH, push), "login": (LOGIN, login), "logout": (LOGOUT, logout)}
