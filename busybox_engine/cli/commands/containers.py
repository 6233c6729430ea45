"""docker ps, start, stop, restart, kill, rm, pause, unpause, wait, rename."""
import sys
import time

from busybox_engine.cli import fastjson as json
from busybox_engine.cli.api import DaemonError, error_text, filters_json, q
from busybox_engine.cli.flags import Command, Flag
from busybox_engine.cli.output import ellipsis, human_size, parse_format
from busybox_engine.util.timefmt import human_duration

PS_FORMAT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
              "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
              "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS",
              "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS"}


def short_id(i: str) -> str:
    if i.startswith("sha256:"):
        i = i[7:]
    return i[:12]


def familiar(ref: str) -> str:
    """An image reference as Docker shows it: no docker.io/library/, no digest."""
    name, at, _digest = ref.partition("@")
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return name


def go_quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def go_time(ts: float) -> str:
    """Go's time.Time.String() in the local zone."""
    lt = time.localtime(ts)
    off = lt.tm_gmtoff
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return time.strftime("%Y-%m-%d %H:%M:%S", lt) + f" {sign}{off // 3600:02d}{off % 3600 // 60:02d} {lt.tm_zone}"


def display_ports(ports: list) -> str:
    out = []
    for p in sorted(ports or [], key=lambda p: (p.get("PrivatePort", 0), p.get("Type", ""), p.get("IP", ""))):
        if p.get("PublicPort"):
            ip = p.get("IP") or "0.0.0.0"
            ip = f"[{ip}]" if ":" in ip else ip
            out.append(f"{ip}:{p['PublicPort']}->{p['PrivatePort']}/{p.get('Type', 'tcp')}")
        else:
            out.append(f"{p.get('PrivatePort')}/{p.get('Type', 'tcp')}")
    return ", ".join(out)


class PsRow:
    """One `docker ps` line's fields, as the docker CLI's ContainerContext."""

    def __init__(self, c: dict, trunc: bool):
        self.c = c
        self.trunc = trunc

    def ID(self):
        return short_id(self.c.get("Id", "")) if self.trunc else self.c.get("Id", "")

    def Image(self):
        image = self.c.get("Image") or ""
        if not image:
            return "<no image>"
        if self.trunc:
            if short_id(self.c.get("ImageID", "")) == short_id(image):
                return short_id(image)
            return familiar(image)
        return image

    def Command(self):
        cmd = self.c.get("Command") or ""
        return go_quote(ellipsis(cmd, 20) if self.trunc else cmd)

    def CreatedAt(self):
        return go_time(self.c.get("Created", 0))

    def RunningFor(self):
        return human_duration(time.time() - self.c.get("Created", 0)) + " ago"

    def Ports(self):
        return display_ports(self.c.get("Ports"))

    def State(self):
        return self.c.get("State", "")

    def Status(self):
        return self.c.get("Status", "")

    def Size(self):
        srw = human_size(self.c.get("SizeRw") or 0)
        root = self.c.get("SizeRootFs") or 0
        return f"{srw} (virtual {human_size(root)})" if root > 0 else srw

    def Names(self):
        names = [n[1:] if n.startswith("/") else n for n in self.c.get("Names") or []]
        if self.trunc:
            for n in names:
                if "/" not in n:
                    names = [n]
                    break
        return ",".join(names)

    def Labels(self):
        return ",".join(f"{k}={v}" for k, v in sorted((self.c.get("Labels") or {}).items()))

    def Label(self, name):
        return (self.c.get("Labels") or {}).get(name, "")

    def Mounts(self):
        names = []
        for m in self.c.get("Mounts") or []:
            n = m.get("Name") or m.get("Source") or ""
            names.append(ellipsis(n, 15) if self.trunc else n)
        return ",".join(names)

    def LocalVolumes(self):
        return str(sum(1 for m in self.c.get("Mounts") or [] if m.get("Driver") == "local"))

    def Networks(self):
        return ",".join(sorted(((self.c.get("NetworkSettings") or {}).get("Networks") or {}).keys()))

    def json_dict(self):
        return {k: getattr(self, k)() for k in sorted(PS_HEADERS)}


PS = Command("docker ps", "docker ps [OPTIONS]", "List containers", max_args=0, flags=[
    Flag("all", short="a", help="Show all containers (default shows just running)"),
    Flag("filter", "filter", short="f", help="Filter output based on conditions provided"),
    Flag("format", "string", help="Pretty-print containers using a Go template"),
    Flag("last", "int", short="n", default=-1, help="Show n last created containers (includes all states)",
         shown_default="-1"),
    Flag("latest", short="l", help="Show the latest created container (includes all states)"),
    Flag("no-trunc", help="Don't truncate output"),
    Flag("quiet", short="q", help="Only display container IDs"),
    Flag("size", short="s", help="Display total file sizes"),
])


def ps(ctx, v, args) -> int:
    fmt = v.format or ctx.config.get("psFormat") or ""
    if v.quiet:
        fmt = "{{.ID}}"
    elif not fmt or fmt == "table":
        fmt = PS_FORMAT + ("\t{{.Size}}" if v.size else "")
    formatter = parse_format(fmt, PS_HEADERS)
    limit = 1 if v.latest else v.last
    query = {"all": "1" if (v.all or limit != -1) else None, "limit": str(limit) if limit > 0 else None,
             "size": "1" if (v.size or "{{.Size}}" in fmt or ".Size" in fmt) else None,
             "filters": filters_json(v.filter)}
    items = ctx.api.get("/containers/json", query)
    sys.stdout.write(formatter.render([PsRow(c, not v.no_trunc) for c in items]))
    return 0


def _each(ctx, names: list, action, kind: str = "") -> int:
    """Run action on each name; print the name when it worked, the error
    when not (the Go client's own "No such KIND" for calls that name their
    object); 1 if any failed (as docker does)."""
    failed = False
    for n in names:
        try:
            action(n)
        except DaemonError as e:
            sys.stdout.flush()
            sys.stderr.write((error_text(e, kind, n) if kind else f"Error response from daemon: {e.message}") + "\n")
            failed = True
            continue
        sys.stdout.write(n + "\n")
    return 1 if failed else 0


START = Command("docker start", "docker start [OPTIONS] CONTAINER [CONTAINER...]",
                "Start one or more stopped containers", min_args=1, flags=[
                    Flag("attach", short="a", help="Attach STDOUT/STDERR and forward signals"),
                    Flag("detach-keys", "string", help="Override the key sequence for detaching a container"),
                    Flag("interactive", short="i", help="Attach container's STDIN"),
                ])


def start(ctx, v, args) -> int:
    if v.attach or v.interactive:
        if len(args) > 1:
            sys.stderr.write("you cannot start and attach multiple containers at once\n")
            return 1
        return _start_attached(ctx, v, args[0])
    failed = _each(ctx, args, lambda n: ctx.api.post(f"/containers/{q(n)}/start"))
    if failed:
        sys.stderr.write("Error: failed to start containers: " + ", ".join(args) + "\n")
    return failed


def _start_attached(ctx, v, name: str) -> int:
    """docker start -a [-i]: attached before the start, its exit status after."""
    from busybox_engine.cli.attach import Attachment, ask_wait
    try:
        info = ctx.api.get(f"/containers/{q(name)}/json")
    except DaemonError as e:
        sys.stderr.write(error_text(e, "container", name) + "\n")
        return 1
    cfg = info.get("Config") or {}
    att = Attachment(ctx.host, name, tty=bool(cfg.get("Tty")), stdin=bool(v.interactive and cfg.get("OpenStdin")),
                     stdout=True, stderr=True, detach_keys=v.detach_keys or ctx.config.get("detachKeys"),
                     api_version=ctx.api.version, tls=ctx.tls)
    att.open()
    waiter = ask_wait(ctx, q(name), "next-exit")
    try:
        try:
            ctx.api.post(f"/containers/{q(name)}/start")
        except DaemonError as e:
            att.close()
            sys.stderr.write(f"Error response from daemon: {e.message}\n")
            return 1
        if att.pump(resize=lambda h, w: None):
            return 0
        resp = waiter.http.read_response("POST")
        return int((resp.json() or {}).get("StatusCode", 0)) if resp.status < 400 else 1
    finally:
        waiter.close()


STOP = Command("docker stop", "docker stop [OPTIONS] CONTAINER [CONTAINER...]",
               "Stop one or more running containers", min_args=1, flags=[
                   Flag("time", "int", short="t", default=10, help="Seconds to wait for stop before killing it"),
               ])


def stop(ctx, v, args) -> int:
    t = str(v.time) if "time" in v.given else None
    return _each(ctx, args, lambda n: ctx.api.post(f"/containers/{q(n)}/stop", {"t": t}))


RESTART = Command("docker restart", "docker restart [OPTIONS] CONTAINER [CONTAINER...]",
                  "Restart one or more containers", min_args=1, flags=[
                      Flag("time", "int", short="t", default=10,
                           help="Seconds to wait for stop before killing the container"),
                  ])


def restart(ctx, v, args) -> int:
    t = str(v.time) if "time" in v.given else None
    return _each(ctx, args, lambda n: ctx.api.post(f"/containers/{q(n)}/restart", {"t": t}))


KILL = Command("docker kill", "docker kill [OPTIONS] CONTAINER [CONTAINER...]",
               "Kill one or more running containers", min_args=1, flags=[
                   Flag("signal", "string", short="s", default="KILL", help="Signal to send to the container"),
               ])


def kill(ctx, v, args) -> int:
    return _each(ctx, args, lambda n: ctx.api.post(f"/containers/{q(n)}/kill", {"signal": v.signal}))


RM = Command("docker rm", "docker rm [OPTIONS] CONTAINER [CONTAINER...]",
             "Remove one or more containers", min_args=1, flags=[
                 Flag("force", short="f", help="Force the removal of a running container (uses SIGKILL)"),
                 Flag("link", short="l", help="Remove the specified link"),
                 Flag("volumes", short="v", help="Remove anonymous volumes associated with the container"),
             ])


def rm(ctx, v, args) -> int:
    query = {"force": "1" if v.force else None, "v": "1" if v.volumes else None,
             "link": "1" if v.link else None}
    return _each(ctx, args, lambda n: ctx.api.delete(f"/containers/{q(n.strip('/'))}", query), "container")


PAUSE = Command("docker pause", "docker pause CONTAINER [CONTAINER...]",
                "Pause all processes within one or more containers", min_args=1)
UNPAUSE = Command("docker unpause", "docker unpause CONTAINER [CONTAINER...]",
                  "Unpause all processes within one or more containers", min_args=1)


def pause(ctx, v, args) -> int:
    return _each(ctx, args, lambda n: ctx.api.post(f"/containers/{q(n)}/pause"))


def unpause(ctx, v, args) -> int:
    return _each(ctx, args, lambda n: ctx.api.post(f"/containers/{q(n)}/unpause"))


WAIT = Command("docker wait", "docker wait CONTAINER [CONTAINER...]",
               "Block until one or more containers stop, then print their exit codes", min_args=1)


def wait(ctx, v, args) -> int:
    failed = False
    for n in args:
        try:
            r = ctx.api.post(f"/containers/{q(n)}/wait").json() or {}
        except DaemonError as e:
            sys.stdout.flush()
            sys.stderr.write(f"Error response from daemon: {e.message}\n")
            failed = True
            continue
        sys.stdout.write(f"{r.get('StatusCode', 0)}\n")
    return 1 if failed else 0


RENAME = Command("docker rename", "docker rename CONTAINER NEW_NAME", "Rename a container", exact_args=2)


def rename(ctx, v, args) -> int:
    old, new = args
    new = new.strip()
    if not old.strip() or not new:
        sys.stderr.write("Error: Neither old nor new names may be empty\n")
        return 1
    try:
        ctx.api.post(f"/containers/{q(old)}/rename", {"name": new})
    except DaemonError as e:
        sys.stderr.write(f"Error response from daemon: {e.message}\n")
        sys.stderr.write("Error: failed to rename container named " + old + "\n")
        return 1
    return 0


SPECS = {"ps": (PS, ps), "start": (START, start), "stop": (STOP, stop), "restart": (RESTART, restart),
         "kill": (KILL, kill), "rm": (RM, rm), "pause": (PAUSE, pause), "unpause": (UNPAUSE, unpause),
         "wait": (WAIT, wait), "rename": (RENAME, rename)}
