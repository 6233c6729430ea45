"""docker info, version, system df, events and system prune."""
import sys
import time

from busybox_engine.cli import fastjson as json
from busybox_engine.cli.api import DaemonError, filters_json
from busybox_engine.cli.commands.objects import confirm
from busybox_engine.cli.flags import Command, Flag
from busybox_engine.cli.goformat import TemplateError
from busybox_engine.cli.output import compile_template, human_size, parse_format
from busybox_engine.util.units import bytes_size


def _template(fmt: str):
    try:
        return compile_template(fmt)
    except TemplateError as e:
        sys.stderr.write(f"template parsing error: {e}\n")
        raise SystemExit(64) from None


INFO = Command("docker info", "docker info [OPTIONS]", "Display system-wide information", max_args=0, flags=[
    Flag("format", "string", short="f", help="Format the output using the given Go template"),
])



def info(ctx, v, args) -> int:
    client = {"Debug": False, "Context": "default", "Plugins": [], "Warnings": None}
    data = ctx.api.get("/info") or {}
    if v.format:
        tmpl = _template(v.format)
        try:
            sys.stdout.write(tmpl.render(dict(data, ClientInfo=client)) + "\n")
        except TemplateError as e:
            sys.stderr.write(f"{e}\n")
            return 1
        return 0
    out = ["Client:", " Context:    default", " Debug Mode: false", "", "Server:"]
    out += [f" Containers: {data.get('Containers', 0)}", f"  Running: {data.get('ContainersRunning', 0)}",
            f"  Paused: {data.get('ContainersPaused', 0)}", f"  Stopped: {data.get('ContainersStopped', 0)}",
            f" Images: {data.get('Images', 0)}", f" Server Version: {data.get('ServerVersion', '')}",
            f" Storage Driver: {data.get('Driver', '')}"]
    for pair in data.get("DriverStatus") or []:
        if len(pair) == 2:
            out.append(f"  {pair[0]}: {pair[1]}")
    out += [f" Logging Driver: {data.get('LoggingDriver', '')}", f" Cgroup Driver: {data.get('CgroupDriver', '')}",
            f" Cgroup Version: {data.get('CgroupVersion', '')}", " Plugins:"]
    plugins = data.get("Plugins") or {}
    for kind in ("Volume", "Network", "Authorization", "Log"):
        if plugins.get(kind):
            out.append(f"  {kind}: {' '.join(plugins[kind])}")
    swarm = (data.get("Swarm") or {}).get("LocalNodeState") or "inactive"
    out.append(f" Swarm: {swarm}")
    runtimes = data.get("Runtimes") or {}
    if runtimes:
        out.append(f" Runtimes: {' '.join(sorted(runtimes))}")
        out.append(f" Default Runtime: {data.get('DefaultRuntime', '')}")
    if data.get("OSType") == "linux":
        out.append(f" Init Binary: {data.get('InitBinary', '')}")
        for label, key in (("containerd version", "ContainerdCommit"), ("runc version", "RuncCommit"),
                           ("init version", "InitCommit")):
            out.append(f" {label}: {(data.get(key) or {}).get('ID', '')}")
        opts = data.get("SecurityOptions") or []
        if opts:
            out.append(" Security Options:")
            for o in opts:
                fields = dict(kv.split("=", 1) for kv in o.split(",") if "=" in kv)
                out.append(f"  {fields.get('name', o)}")
                for k, val in fields.items():
                    if k != "name":
                        out.append(f"   {k[:1].upper() + k[1:]}: {val}")
        out.append(f" Kernel Version: {data.get('KernelVersion', '')}")
    out += [f" Operating System: {data.get('OperatingSystem', '')}", f" OSType: {data.get('OSType', '')}",
            f" Architecture: {data.get('Architecture', '')}", f" CPUs: {data.get('NCPU', 0)}",
            f" Total Memory: {bytes_size(data.get('MemTotal', 0))}", f" Name: {data.get('Name', '')}",
            f" ID: {data.get('ID', '')}", f" Docker Root Dir: {data.get('DockerRootDir', '')}",
            f" Debug Mode: {'true' if data.get('Debug') else 'false'}"]
    if data.get("Debug"):
        out += [f"  File Descriptors: {data.get('NFd', 0)}", f"  Goroutines: {data.get('NGoroutines', 0)}",
                f"  System Time: {data.get('SystemTime', '')}", f"  EventsListeners: {data.get('NEventsListener', 0)}"]
    for label, key in (("HTTP Proxy", "HttpProxy"), ("HTTPS Proxy", "HttpsProxy"), ("No Proxy", "NoProxy")):
        if data.get(key):
            out.append(f" {label}: {data[key]}")
    out.append(f" Registry: {data.get('IndexServerAddress', '')}")
    out.append(" Labels:")
    out += [f"  {label}" for label in data.get("Labels") or []]
    out.append(f" Experimental: {'true' if data.get('ExperimentalBuild') else 'false'}")
    reg = data.get("RegistryConfig") or {}
    if reg.get("InsecureRegistryCIDRs") or reg.get("IndexConfigs"):
        out.append(" Insecure Registries:")
        for name, conf in sorted((reg.get("IndexConfigs") or {}).items()):
            if not conf.get("Secure"):
                out.append(f"  {conf.get('Name', name)}")
        for cidr in reg.get("InsecureRegistryCIDRs") or []:
            out.append(f"  {cidr}")    # "127.0.0.0/8", as dockerd marshals them
    if reg.get("Mirrors"):
        out.append(" Registry Mirrors:")
        out += [f"  {m}" for m in reg["Mirrors"]]
    out.append(f" Live Restore Enabled: {'true' if data.get('LiveRestoreEnabled') else 'false'}")
    if data.get("ProductLicense"):
        out.append(f" Product License: {data['ProductLicense']}")
    sys.stdout.write("\n".join(out) + "\n\n")
    sys.stdout.flush()
    for w in data.get("Warnings") or []:
        sys.stderr.write(w + "\n")
    return 0


VERSION = Command("docker version", "docker version [OPTIONS]", "Show the Docker version information", max_args=0,
                  flags=[Flag("format", "string", short="f", help="Format the output using the given Go template"),
                         # 20.10 keeps the flag of its Kubernetes orchestrator, and ignores it
                         Flag("kubeconfig", "string", help="Kubernetes config file")])


def version(ctx, v, args) -> int:
    from busybox_engine.cli import version as ver
    from busybox_engine.cli.api import NoDaemon
    if not v.format:
        sys.stdout.write("\n".join(ver.client_lines()) + "\n")
        try:
            data = ctx.api.get("/version")
        except NoDaemon as e:
            sys.stdout.flush()
            sys.stderr.write(f"{e}\n")
            return 1
        sys.stdout.write("\n".join(ver.server_lines(data)) + "\n")
        return 0
    tmpl = _template(v.format)
    import platform
    from busybox_engine import __version__
    from busybox_engine._build_info import BUILD_ID, BUILD_TIME
    client = {"Platform": {"Name": ""}, "Version": __version__, "ApiVersion": ctx.api.version or ver.CLIENT_API_VERSION,
              "DefaultAPIVersion": ver.CLIENT_API_VERSION, "GitCommit": BUILD_ID,
              "GoVersion": f"python{platform.python_version()}", "Os": "linux", "Arch": ver._arch(),
              "BuildTime": BUILD_TIME or "", "Context": "default", "Experimental": True}
    try:
        server = ctx.api.get("/version")
    except NoDaemon as e:
        sys.stderr.write(f"{e}\n")
        server = None
    try:
        sys.stdout.write(tmpl.render({"Client": client, "Server": server}) + "\n")
    except TemplateError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    return 0 if server is not None else 1


DF = Command("docker system df", "docker system df [OPTIONS]", "Show docker disk usage", max_args=0, flags=[
    Flag("format", "string", help="Pretty-print images using a Go template"),
    Flag("verbose", short="v", help="Show detailed information on space usage"),
])


class DfRow:
    def __init__(self, kind, total, active, size, reclaim):
        self.kind, self.total, self.active, self.size, self.reclaim = kind, total, active, size, reclaim

    def Type(self):
        return self.kind

    def TotalCount(self):
        return str(self.total)

    def Active(self):
        return str(self.active)

    def Size(self):
        return human_size(self.size, 4)

    def Reclaimable(self):
        if self.kind in ("Images", "Containers", "Local Volumes") and self.size > 0:
            return f"{human_size(self.reclaim, 4)} ({int(self.reclaim * 100 / self.size)}%)"
        return human_size(self.reclaim, 4)

    def json_dict(self):
        return {"Active": self.Active(), "Reclaimable": self.Reclaimable(), "Size": self.Size(),
                "TotalCount": self.TotalCount(), "Type": self.Type()}


def df(ctx, v, args) -> int:
    data = ctx.api.get("/system/df") or {}
    images = data.get("Images") or []
    containers = data.get("Containers") or []
    volumes = data.get("Volumes") or []
    cache = data.get("BuildCache") or []
    if v.verbose:
        return _df_verbose(data)
    img_size = data.get("LayersSize") or sum(i.get("Size", 0) for i in images)
    img_active = sum(1 for i in images if (i.get("Containers") or 0) > 0)
    img_used = sum(i.get("Size", 0) - max(i.get("SharedSize", 0), 0) for i in images if (i.get("Containers") or 0) > 0)
    c_size = sum(c.get("SizeRw", 0) or 0 for c in containers)
    c_active = sum(1 for c in containers if c.get("State") in ("running", "paused", "restarting"))
    c_reclaim = sum(c.get("SizeRw", 0) or 0 for c in containers if c.get("State") not in ("running", "paused",
                                                                                        "restarting"))
    v_size = sum(max((x.get("UsageData") or {}).get("Size", 0), 0) for x in volumes)
    v_active = sum(1 for x in volumes if (x.get("UsageData") or {}).get("RefCount", 0) > 0)
    v_reclaim = sum(max((x.get("UsageData") or {}).get("Size", 0), 0) for x in volumes
                    if (x.get("UsageData") or {}).get("RefCount", 0) == 0)
    b_size = sum(b.get("Size", 0) for b in cache)
    rows = [DfRow("Images", len(images), img_active, img_size, max(img_size - img_used, 0)),
            DfRow("Containers", len(containers), c_active, c_size, c_reclaim),
            DfRow("Local Volumes", len(volumes), v_active, v_size, v_reclaim),
            DfRow("Build Cache", len(cache), sum(1 for b in cache if b.get("InUse")), b_size,
                  sum(b.get("Size", 0) for b in cache if not b.get("InUse") and not b.get("Shared")))]
    fmt = v.format or "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
    formatter = parse_format(fmt, {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
                                   "Reclaimable": "RECLAIMABLE"})
    sys.stdout.write(formatter.render(rows))
    return 0


def _df_verbose(data: dict) -> int:
    from busybox_engine.cli.commands.containers import PsRow
    from busybox_engine.cli.commands.images import ImageRow, _rows
    from busybox_engine.cli.commands.objects import VolumeRow
    from busybox_engine.cli.output import Formatter

    out = ["Images space usage:\n\n"]
    img_fmt = Formatter("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}"
                        "\t{{.UniqueSize}}\t{{.Containers}}",
                        {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
                         "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
                         "Containers": "CONTAINERS"})

    class VImage(ImageRow):
        def Size(self):
            return human_size(self.i.get("Size") or 0, 4)

        def SharedSize(self):
            s = self.i.get("SharedSize", -1)
            return "N/A" if s is None or s < 0 else human_size(s, 4)

        def UniqueSize(self):
            s = self.i.get("SharedSize", -1)
            return "N/A" if s is None or s < 0 else human_size((self.i.get("Size") or 0) - s, 4)

    rows = [VImage(r.i, r.repo, r.tag, r.digest, True) for r in _rows(data.get("Images") or [], True, False, False)]
    out.append(img_fmt.render(rows))
    out.append("\nContainers space usage:\n\n")

    class VContainer(PsRow):
        def LocalVolumes(self):
            return str(sum(1 for m in self.c.get("Mounts") or [] if m.get("Type") == "volume"))

        def Size(self):
            return human_size(self.c.get("SizeRw") or 0, 4)

    c_fmt = Formatter("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}"
                      "\t{{.Status}}\t{{.Names}}",
                      {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "LocalVolumes": "LOCAL VOLUMES",
                       "Size": "SIZE", "RunningFor": "CREATED", "Status": "STATUS", "Names": "NAMES"})
    out.append(c_fmt.render([VContainer(c, True) for c in data.get("Containers") or []]))
    out.append("\nLocal Volumes space usage:\n\n")
    v_fmt = Formatter("table {{.Name}}\t{{.Links}}\t{{.Size}}", {"Name": "VOLUME NAME", "Links": "LINKS",
                                                                  "Size": "SIZE"})

    class VVolume(VolumeRow):
        def Size(self):
            usage = self.v.get("UsageData") or {}
            return "N/A" if usage.get("Size", -1) < 0 else human_size(usage["Size"], 4)

    out.append(v_fmt.render([VVolume(x) for x in data.get("Volumes") or []]))
    cache = data.get("BuildCache") or []
    out.append(f"\nBuild cache usage: {human_size(sum(b.get('Size', 0) for b in cache), 4)}\n\n")
    b_fmt = Formatter("table {{.ID}}\t{{.Type}}\t{{.Size}}\t{{.Created}}\t{{.LastUsed}}\t{{.Usage}}\t{{.Shared}}",
                      {"ID": "CACHE ID", "Type": "CACHE TYPE", "Size": "SIZE", "Created": "CREATED",
                       "LastUsed": "LAST USED", "Usage": "USAGE", "Shared": "SHARED"})
    out.append(b_fmt.render([]))
    sys.stdout.write("".join(out))
    return 0


EVENTS = Command("docker events", "docker events [OPTIONS]", "Get real time events from the server", max_args=0,
                 flags=[
                     Flag("filter", "filter", short="f", help="Filter output based on conditions provided"),
                     Flag("format", "string", help="Format the output using the given Go template"),
                     Flag("since", "string", help="Show all events created since timestamp"),
                     Flag("until", "string", help="Stream events until this timestamp"),
                 ])


def _event_time(nano: int) -> str:
    secs, frac = divmod(nano, 1_000_000_000)
    t = time.localtime(secs)
    off = t.tm_gmtoff
    zone = "Z" if off == 0 else f"{'+' if off > 0 else '-'}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{frac:09d}" + zone


def events(ctx, v, args) -> int:
    from busybox_engine.cli.commands.logs import timestamp_arg
    try:
        since, until = timestamp_arg(v.since), timestamp_arg(v.until)
    except ValueError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    tmpl = _template(v.format) if v.format else None
    resp = ctx.api.stream("GET", "/events", {"since": since or None, "until": until or None,
                                             "filters": filters_json(v.filter)})
    buf = b""
    try:
        for chunk in resp.chunks:
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    _print_event(json.loads(line), tmpl)
    except KeyboardInterrupt:
        return 0
    return 0


def _print_event(ev: dict, tmpl) -> None:
    if tmpl is not None:
        sys.stdout.write(tmpl.render(ev) + "\n")
        sys.stdout.flush()
        return
    actor = ev.get("Actor") or {}
    nano = ev.get("timeNano") or int(ev.get("time", 0)) * 1_000_000_000
    attrs = actor.get("Attributes") or {}
    text = f"{_event_time(nano)} {ev.get('Type', '')} {ev.get('Action', '')} {actor.get('ID', '')}"
    if attrs:
        text += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


SYSTEM_PRUNE = Command("docker system prune", "docker system prune [OPTIONS]", "Remove unused data", max_args=0,
                       flags=[
                           Flag("all", short="a", help="Remove all unused images not just dangling ones"),
                           Flag("filter", "filter", help="Provide filter values (e.g. 'label=<key>=<value>')"),
                           Flag("force", short="f", help="Do not prompt for confirmation"),
                           Flag("volumes", help="Prune volumes"),
                       ])


def system_prune(ctx, v, args) -> int:
    items = ["all stopped containers", "all networks not used by at least one container"]
    if v.volumes:
        items.append("all volumes not used by at least one container")
    items.append("all images without at least one container associated to them" if v.all
                 else "all dangling images")
    items.append("all dangling build cache" if not v.all else "all build cache")
    warning = "WARNING! This will remove:\n" + "".join(f"  - {i}\n" for i in items)
    if not v.force and not confirm(warning):
        return 0
    filters = filters_json(v.filter)
    reclaimed = 0
    out = ctx.api.post("/containers/prune", {"filters": filters}).json() or {}
    if out.get("ContainersDeleted"):
        sys.stdout.write("Deleted Containers:\n" + "".join(c + "\n" for c in out["ContainersDeleted"]) + "\n")
    reclaimed += out.get("SpaceReclaimed") or 0
    out = ctx.api.post("/networks/prune", {"filters": filters}).json() or {}
    if out.get("NetworksDeleted"):
        sys.stdout.write("Deleted Networks:\n" + "".join(c + "\n" for c in out["NetworksDeleted"]) + "\n")
    if v.volumes:
        out = ctx.api.post("/volumes/prune", {"filters": filters}).json() or {}
        if out.get("VolumesDeleted"):
            sys.stdout.write("Deleted Volumes:\n" + "".join(c + "\n" for c in out["VolumesDeleted"]) + "\n")
        reclaimed += out.get("SpaceReclaimed") or 0
    image_filters = filters_json(list(v.filter) + [f"dangling={'false' if v.all else 'true'}"])
    out = ctx.api.post("/images/prune", {"filters": image_filters}).json() or {}
    if out.get("ImagesDeleted"):
        lines = []
        for d in out["ImagesDeleted"]:
            if d.get("Untagged"):
                lines.append(f"untagged: {d['Untagged']}\n")
            if d.get("Deleted"):
                lines.append(f"deleted: {d['Deleted']}\n")
        sys.stdout.write("Deleted Images:\n" + "".join(lines) + "\n")
    reclaimed += out.get("SpaceReclaimed") or 0
    sys.stdout.write(f"Total reclaimed space: {human_size(reclaimed)}\n")
    return 0


SPECS = {"info": (INFO, info), "version": (VERSION, version), "system df": (DF, df), "events": (EVENTS, events),
         "system prune": (SYSTEM_PRUNE, system_prune)}

__all__ = ["SPECS", "DaemonError"]
