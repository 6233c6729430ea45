"""docker top, port, diff, commit, export, update, cp, stats and
container prune."""
import base64
import os
import sys

from busybox_engine.cli import fastjson as json
from busybox_engine.cli.api import DaemonError, filters_json, q
from busybox_engine.cli.commands.objects import confirm
from busybox_engine.cli.flags import Command, Flag
from busybox_engine.cli.output import human_size, parse_format, tabwrite
from busybox_engine.util.units import bytes_size


TOP = Command("docker top", "docker top CONTAINER [ps OPTIONS]", "Display the running processes of a container",
              min_args=1, interspersed=False)


def top(ctx, v, args) -> int:
    out = ctx.api.get(f"/containers/{q(args[0])}/top", {"ps_args": " ".join(args[1:]) or None})
    lines = ["\t".join(out.get("Titles") or [])] + ["\t".join(p) for p in out.get("Processes") or []]
    sys.stdout.write(tabwrite(lines, minwidth=20, padding=3))
    return 0


PORT = Command("docker port", "docker port CONTAINER [PRIVATE_PORT[/PROTO]]",
               "List port mappings or a specific mapping for the container", min_args=1, max_args=2)


def port(ctx, v, args) -> int:
    try:
        info = ctx.api.get(f"/containers/{q(args[0])}/json")
    except DaemonError as e:
        if e.status == 404:
            sys.stderr.write(f"Error: No such container: {args[0]}\n")
            return 1
        raise
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    if len(args) == 2:
        want = args[1] if "/" in args[1] else args[1] + "/tcp"
        binds = ports.get(want)
        if not binds:
            sys.stderr.write(f"Error: No public port '{want}' published for {args[0]}\n")
            return 1
        for b in binds:
            sys.stdout.write(f"{_host(b)}\n")
        return 0
    for p in sorted(ports, key=_port_key):
        for b in ports[p] or []:
            sys.stdout.write(f"{p} -> {_host(b)}\n")
    return 0


def _host(b: dict) -> str:
    ip = b.get("HostIp") or "0.0.0.0"
    return f"[{ip}]:{b.get('HostPort')}" if ":" in ip else f"{ip}:{b.get('HostPort')}"


def _port_key(p: str):
    num, _, proto = p.partition("/")
    return (int(num) if num.isdigit() else 0, proto)


DIFF = Command("docker diff", "docker diff CONTAINER", "Inspect changes to files or directories on a container's "
               "filesystem", exact_args=1)


def diff(ctx, v, args) -> int:
    changes = ctx.api.get(f"/containers/{q(args[0])}/changes") or []
    for c in changes:
        sys.stdout.write(f"{'CAD'[c.get('Kind', 0)] if 0 <= c.get('Kind', 0) <= 2 else '?'} {c.get('Path')}\n")
    return 0


COMMIT = Command("docker commit", "docker commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
                 "Create a new image from a container's changes", min_args=1, max_args=2, flags=[
                     Flag("author", "string", short="a", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
                     Flag("change", "list", short="c", help="Apply Dockerfile instruction to the created image"),
                     Flag("message", "string", short="m", help="Commit message"),
                     Flag("pause", short="p", default=True, help="Pause container during commit"),
                 ])


def commit(ctx, v, args) -> int:
    repo, tag = "", ""
    if len(args) == 2:
        head, sep, tail = args[1].rpartition(":")
        repo, tag = (head, tail) if sep and "/" not in tail else (args[1], "")
    query = {"container": args[0], "repo": repo or None, "tag": tag or None, "comment": v.message or None,
             "author": v.author or None, "pause": "1" if v.pause else "0", "changes": v.change}
    out = ctx.api.post("/commit", query).json()
    sys.stdout.write((out or {}).get("Id", "") + "\n")
    return 0


def _to_output(resp, output: str) -> int:
    """A tar answer to the file of -o, or to stdout when it is not a terminal."""
    if output:
        tmp = output + ".tmp"
        with open(tmp, "wb") as f:
            for chunk in resp.chunks:
                f.write(chunk)
        os.replace(tmp, output)
        return 0
    out = sys.stdout.buffer
    for chunk in resp.chunks:
        out.write(chunk)
    out.flush()
    return 0


EXPORT = Command("docker export", "docker export [OPTIONS] CONTAINER",
                 "Export a container's filesystem as a tar archive", exact_args=1, flags=[
                     Flag("output", "string", short="o", help="Write to a file, instead of STDOUT"),
                 ])


def export(ctx, v, args) -> int:
    if not v.output and os.isatty(1):
        sys.stderr.write("cowardly refusing to save to a terminal. Use the -o flag or redirect\n")
        return 1
    resp = ctx.api.stream("GET", f"/containers/{q(args[0])}/export")
    return _to_output(resp, v.output)


def _update_flags() -> list:
    """create's own definitions of what update changes, and kernel-memory."""
    from busybox_engine.cli.commands.createopts import CREATE_FLAGS
    names = ("blkio-weight", "cpu-period", "cpu-quota", "cpu-shares", "cpus", "cpuset-cpus", "cpuset-mems",
             "kernel-memory", "memory", "memory-reservation", "memory-swap", "pids-limit")
    flags = [f for f in CREATE_FLAGS if f.name in names]
    flags.append(Flag("cpu-rt-period", "int", help="Limit the CPU real-time period in microseconds"))
    flags.append(Flag("cpu-rt-runtime", "int", help="Limit the CPU real-time runtime in microseconds"))
    flags.append(Flag("restart", "string", help="Restart policy to apply when a container exits"))
    return sorted(flags, key=lambda f: f.name)


UPDATE = Command("docker update", "docker update [OPTIONS] CONTAINER [CONTAINER...]",
                 "Update configuration of one or more containers", min_args=1, flags=_update_flags())


def update(ctx, v, args) -> int:
    if not v.given:
        sys.stderr.write("you must provide one or more flags when using this command\n")
        return 1
    # Go's UpdateConfig whole, as the CLI sends it: zero means unchanged
    body = {"CpuShares": v.cpu_shares, "Memory": v.memory, "NanoCpus": v.cpus, "CgroupParent": "",
            "BlkioWeight": v.blkio_weight, "BlkioWeightDevice": None, "BlkioDeviceReadBps": None,
            "BlkioDeviceWriteBps": None, "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None,
            "CpuPeriod": v.cpu_period, "CpuQuota": v.cpu_quota, "CpuRealtimePeriod": v.cpu_rt_period,
            "CpuRealtimeRuntime": v.cpu_rt_runtime, "CpusetCpus": v.cpuset_cpus, "CpusetMems": v.cpuset_mems,
            "Devices": None, "DeviceCgroupRules": None, "DeviceRequests": None, "KernelMemory": v.kernel_memory,
            "KernelMemoryTCP": 0, "MemoryReservation": v.memory_reservation, "MemorySwap": v.memory_swap,
            "MemorySwappiness": None, "OomKillDisable": None,
            "PidsLimit": v.pids_limit if "pids_limit" in v.given else None, "Ulimits": None,
            "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
            "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}}
    if "restart" in v.given:
        from busybox_engine.cli.commands.createopts import parse_restart
        body["RestartPolicy"] = parse_restart(v.restart)
    failed = False
    for n in args:
        try:
            out = ctx.api.post(f"/containers/{q(n)}/update", body=body).json() or {}
        except DaemonError as e:
            sys.stdout.flush()
            sys.stderr.write(f"Error response from daemon: {e.message}\n")
            failed = True
            continue
        for w in out.get("Warnings") or []:
            sys.stderr.write(w + "\n")
        sys.stdout.write(n + "\n")
    return 1 if failed else 0


CONTAINER_PRUNE = Command("docker container prune", "docker container prune [OPTIONS]",
                          "Remove all stopped containers", max_args=0, flags=[
                              Flag("filter", "filter", help="Provide filter values (e.g. 'until=<timestamp>')"),
                              Flag("force", short="f", help="Do not prompt for confirmation"),
                          ])


def container_prune(ctx, v, args) -> int:
    if not v.force and not confirm("WARNING! This will remove all stopped containers."):
        return 0
    out = ctx.api.post("/containers/prune", {"filters": filters_json(v.filter)}).json() or {}
    deleted = out.get("ContainersDeleted") or []
    if deleted:
        sys.stdout.write("Deleted Containers:\n" + "".join(d + "\n" for d in deleted) + "\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(out.get('SpaceReclaimed') or 0)}\n")
    return 0


# --- cp -------------------------------------------------------------------------------------

CP = Command("docker cp", "docker cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdocker cp [OPTIONS] SRC_PATH|- "
             "CONTAINER:DEST_PATH", "Copy files/folders between a container and the local filesystem",
             long="Copy files/folders between a container and the local filesystem\n\n"
                  "Use '-' as the source to read a tar archive from stdin\n"
                  "and extract it to a directory destination in a container.\n"
                  "Use '-' as the destination to stream a tar archive of a\n"
                  "container source to stdout.",
             exact_args=2, flags=[
                 Flag("archive", short="a", help="Archive mode (copy all uid/gid information)"),
                 Flag("follow-link", short="L", help="Always follow symbol link in SRC_PATH"),
             ])


def _split_cp(arg: str):
    """(container, path) of CONTAINER:PATH, (None, path) of a local path."""
    if arg.startswith((".", "/")) or ":" not in arg:
        return None, arg
    c, _, p = arg.partition(":")
    return c, p


def cp(ctx, v, args) -> int:
    (sc, sp), (dc, dp) = _split_cp(args[0]), _split_cp(args[1])
    if sc and dc:
        sys.stderr.write("copying between containers is not supported\n")
        return 1
    if not sc and not dc:
        sys.stderr.write("must specify at least one container source\n")
        return 1
    try:
        if sc:
            return _cp_from(ctx, sc, sp, dp, v.follow_link)
        return _cp_to(ctx, sp, dc, dp, v.archive, v.follow_link)
    except DaemonError as e:
        sys.stdout.flush()
        what = f"{sc}:{sp}" if sc else f"{dc}:{dp}"
        sys.stderr.write(f"Error: No such container:path: {what}\n" if e.status == 404 else
                         f"Error response from daemon: {e.message}\n")
        return 1


def _stat(resp) -> dict:
    raw = resp.headers.get("x-docker-container-path-stat", "")
    try:
        return json.loads(base64.b64decode(raw)) if raw else {}
    except ValueError:
        return {}


def _cp_from(ctx, container: str, src: str, dest: str, follow: bool) -> int:
    import io
    import tarfile
    resp = ctx.api.stream("GET", f"/containers/{q(container)}/archive", {"path": src})
    st = _stat(resp)
    data = b"".join(resp.chunks)
    if dest == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    src_is_dir = bool(st.get("mode", 0) & (1 << 31))
    copy_contents = src.endswith("/.") or src.endswith("/./")
    dest_exists = os.path.lexists(dest)
    if not src_is_dir and dest.endswith("/") and not os.path.isdir(dest):
        sys.stderr.write(f"Error: destination directory {dest} does not exist\n" if not dest_exists else
                         f"Error: {dest} is not a directory\n")
        return 1
    if dest_exists and os.path.isdir(dest):
        target_dir, rename = dest, (None if not copy_contents else "")
    else:
        parent = os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(parent):
            sys.stderr.write(f"Error: destination directory {parent} does not exist\n")
            return 1
        target_dir, rename = parent, os.path.basename(dest.rstrip("/"))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for m in tar.getmembers():
            parts = m.name.split("/", 1)
            if rename is not None:
                if copy_contents and rename == "":
                    if len(parts) == 1:
                        continue
                    m.name = parts[1]
                else:
                    m.name = rename + ("/" + parts[1] if len(parts) > 1 else "")
            tar.extract(m, target_dir, set_attrs=True, filter="tar")
    return 0


def _cp_to(ctx, src: str, container: str, dest: str, archive: bool, follow: bool) -> int:
    import io
    import tarfile
    if src == "-":
        body = sys.stdin.buffer.read()
        ctx.api.request("PUT", f"/containers/{q(container)}/archive", {"path": dest}, body=body,
                        headers={"Content-Type": "application/x-tar"})
        return 0
    if not os.path.lexists(src):
        sys.stderr.write(f"Error: lstat {os.path.abspath(src)}: no such file or directory\n")
        return 1
    if follow:
        src = os.path.realpath(src)
    # where it goes: into dest when that is a directory, else as dest
    try:
        head = ctx.api.request("HEAD", f"/containers/{q(container)}/archive", {"path": dest})
        dst = _stat(head)
    except DaemonError as e:
        if e.status != 404:
            raise
        dst = None
    copy_contents = src.endswith("/.") or src.endswith("/./")
    src_clean = src.rstrip("/")
    if src_clean.endswith("/."):
        src_clean = src_clean[:-2]
    base = os.path.basename(os.path.abspath(src_clean))
    if dst and dst.get("mode", 0) & (1 << 31):
        target, arcname = dest, ("." if copy_contents else base)
    else:
        if dest.endswith("/"):
            sys.stderr.write(f"Error response from daemon: Could not find the file {dest} in container {container}\n")
            return 1
        target, arcname = os.path.dirname(dest.rstrip("/")) or "/", os.path.basename(dest.rstrip("/"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:", format=tarfile.PAX_FORMAT) as tar:
        def owner(info):
            if not archive:
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
            return info
        tar.add(src_clean, arcname=arcname, filter=owner)
    ctx.api.request("PUT", f"/containers/{q(container)}/archive", {"path": target, "copyUIDGID": "1" if archive else None},
                    body=buf.getvalue(), headers={"Content-Type": "application/x-tar"})
    return 0


# --- stats ----------------------------------------------------------------------------------

STATS = Command("docker stats", "docker stats [OPTIONS] [CONTAINER...]",
                "Display a live stream of container(s) resource usage statistics", flags=[
                    Flag("all", short="a", help="Show all containers (default shows just running)"),
                    Flag("format", "string", help="Pretty-print images using a Go template"),
                    Flag("no-stream", help="Disable streaming stats and only pull the first result"),
                    Flag("no-trunc", help="Do not truncate output"),
                ])

STATS_FORMAT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}"
                "\t{{.PIDs}}")
STATS_HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
                 "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
                 "PIDs": "PIDS"}


class StatsRow:
    def __init__(self, name_arg: str, s: dict, trunc: bool):
        self.s = s
        self.arg = name_arg
        self.trunc = trunc

    def ID(self):
        i = self.s.get("id", "")
        return i[:12] if self.trunc else i

    def Container(self):
        return self.arg

    def Name(self):
        n = self.s.get("name", "")
        return n[1:] if n.startswith("/") else n

    def CPUPerc(self):
        cpu, pre = self.s.get("cpu_stats") or {}, self.s.get("precpu_stats") or {}
        d_cpu = ((cpu.get("cpu_usage") or {}).get("total_usage", 0)
                 - (pre.get("cpu_usage") or {}).get("total_usage", 0))
        d_sys = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
        online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
        pct = d_cpu / d_sys * online * 100.0 if d_sys > 0 and d_cpu > 0 else 0.0
        return f"{pct:.2f}%"

    def _mem(self):
        m = self.s.get("memory_stats") or {}
        usage = m.get("usage", 0)
        st = m.get("stats") or {}
        usage -= st.get("total_inactive_file", st.get("inactive_file", 0)) if usage else 0
        return max(usage, 0), m.get("limit", 0)

    def MemUsage(self):
        u, lim = self._mem()
        return f"{bytes_size(u, 3)} / {bytes_size(lim, 3)}"

    def MemPerc(self):
        u, lim = self._mem()
        return f"{(u / lim * 100.0) if lim else 0.0:.2f}%"

    def NetIO(self):
        rx = tx = 0
        for n in (self.s.get("networks") or {}).values():
            rx += n.get("rx_bytes", 0)
            tx += n.get("tx_bytes", 0)
        return f"{human_size(rx)} / {human_size(tx)}"

    def BlockIO(self):
        r = w = 0
        for e in (self.s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
            op = (e.get("op") or "").lower()
            if op == "read":
                r += e.get("value", 0)
            elif op == "write":
                w += e.get("value", 0)
        return f"{human_size(r)} / {human_size(w)}"

    def PIDs(self):
        return str((self.s.get("pids_stats") or {}).get("current", 0))

    def json_dict(self):
        return {k: getattr(self, k)() for k in ("BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage",
                                                 "Name", "NetIO", "PIDs")}


class _Collector:
    """One container's stats stream, read in a thread: the latest sample,
    or the error that ended it."""

    def __init__(self, api, name: str, stream: bool):
        import threading
        self.name = name
        self.latest = None
        self.error = None
        self.first = threading.Event()
        self.done = False
        self._api = api
        self._stream = stream
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        from busybox_engine.cli.api import API
        api = API(self._api.host, self._api.tls)
        api.version = self._api.version
        try:
            resp = api.stream("GET", f"/containers/{q(self.name)}/stats",
                              {"stream": "1" if self._stream else "0"})
            buf = b""
            for chunk in resp.chunks:
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        self.latest = json.loads(line)
                        self.first.set()
        except Exception as e:   # shown as the container's error, as Docker does
            self.error = e
        finally:
            self.done = True
            self.first.set()
            api.close()


def stats(ctx, v, args) -> int:
    """As the 20.10 client: a stream per container read meanwhile, the
    table redrawn every half second (clear screen, home) until ctrl-c;
    without names, the running (or -a all) containers as they come and go."""
    import time
    fmt = v.format or ctx.config.get("statsFormat") or STATS_FORMAT
    if fmt == "table":
        fmt = STATS_FORMAT
    formatter = parse_format(fmt, STATS_HEADERS)
    ctx.api._negotiate()
    collectors = {}

    def listed():
        return [c["Id"] for c in ctx.api.get("/containers/json", {"all": "1" if v.all else None}) or []]

    names = list(args) or listed()
    for n in names:
        collectors[n] = _Collector(ctx.api, n, not v.no_stream)
    if args:
        for c in collectors.values():
            c.first.wait(1.5 if not v.no_stream else 30)
        errors = [c.error for c in collectors.values() if c.error is not None]
        if errors:
            raise errors[0]   # `Error response from daemon: No such container: x`, as Docker
    else:
        for c in collectors.values():
            c.first.wait(30)
    try:
        while True:
            if not args and not v.no_stream:
                live = listed()
                for n in live:
                    if n not in collectors:
                        collectors[n] = _Collector(ctx.api, n, True)
                for n in list(collectors):
                    if n not in live:
                        del collectors[n]
            rows = [StatsRow(n if args else n[:12], c.latest or {"id": c.name, "name": ""}, not v.no_trunc)
                    for n, c in collectors.items() if c.latest is not None or not c.done]
            if not v.no_stream:
                sys.stdout.write("\033[2J\033[H")
            sys.stdout.write(formatter.render(rows))
            sys.stdout.flush()
            if v.no_stream or (not collectors and not v.all):
                return 0
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0


SPECS = {"top": (TOP, top), "port": (PORT, port), "diff": (DIFF, diff), "commit": (COMMIT, commit),
         "export": (EXPORT, export), "update": (UPDATE, update), "cp": (CP, cp), "stats": (STATS, stats),
         "container prune": (CONTAINER_PRUNE, container_prune)}
