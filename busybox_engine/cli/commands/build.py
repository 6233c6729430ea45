"""docker build: the context directory (less what .dockerignore leaves
out) sent as a tar to the daemon's classic builder, its output shown as
it comes."""
import io
import json
import os
import sys
import tarfile

from busybox_engine.cli.flags import Command, Flag

BUILD = Command("docker build", "docker build [OPTIONS] PATH | URL | -", "Build an image from a Dockerfile",
                exact_args=1, flags=[
                    Flag("add-host", "list", help="Add a custom host-to-IP mapping (host:ip)"),
                    Flag("build-arg", "list", help="Set build-time variables"),
                    Flag("cache-from", "stringSlice", help="Images to consider as cache sources"),
                    Flag("cgroup-parent", "string", help="Optional parent cgroup for the container"),
                    Flag("compress", help="Compress the build context using gzip"),
                    Flag("cpu-period", "int", help="Limit the CPU CFS (Completely Fair Scheduler) period"),
                    Flag("cpu-quota", "int", help="Limit the CPU CFS (Completely Fair Scheduler) quota"),
                    Flag("cpu-shares", "int", short="c", help="CPU shares (relative weight)"),
                    Flag("cpuset-cpus", "string", help="CPUs in which to allow execution (0-3, 0,1)"),
                    Flag("cpuset-mems", "string", help="MEMs in which to allow execution (0-3, 0,1)"),
                    Flag("disable-content-trust", default=True, help="Skip image verification"),
                    Flag("file", "string", short="f", help="Name of the Dockerfile (Default is 'PATH/Dockerfile')"),
                    Flag("force-rm", help="Always remove intermediate containers"),
                    Flag("iidfile", "string", help="Write the image ID to the file"),
                    Flag("isolation", "string", help="Container isolation technology"),
                    Flag("label", "list", help="Set metadata for an image"),
                    Flag("memory", "bytes", short="m", help="Memory limit"),
                    Flag("memory-swap", "swapbytes",
                         help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
                    Flag("network", "string", default="default",
                         help="Set the networking mode for the RUN instructions during build"),
                    Flag("no-cache", help="Do not use cache when building the image"),
                    Flag("pull", help="Always attempt to pull a newer version of the image"),
                    Flag("quiet", short="q", help="Suppress the build output and print image ID on success"),
                    Flag("rm", default=True, help="Remove intermediate containers after a successful build"),
                    Flag("security-opt", "stringSlice", help="Security options"),
                    Flag("shm-size", "bytes", help="Size of /dev/shm"),
                    Flag("squash", help="Squash newly built layers into a single new layer"),
                    Flag("tag", "list", short="t", help="Name and optionally a tag in the 'name:tag' format"),
                    Flag("target", "string", help="Set the target build stage to build."),
                    Flag("ulimit", "list", tname="ulimit", shown_default="[]", help="Ulimit options"),
                    # BuildKit's and the daemon's platform flags: taken (docker-compose passes
                    # --progress), hidden as 20.10 hides them without BuildKit
                    Flag("progress", "string", default="auto", hidden=True,
                         help="Set type of progress output (auto, plain, tty)"),
                    Flag("platform", "string", hidden=True, help="Set platform if server is multi-platform capable"),
                    Flag("secret", "list", hidden=True, help="Secret file to expose to the build"),
                    Flag("ssh", "list", hidden=True, help="SSH agent socket or keys to expose to the build"),
                    Flag("output", "list", short="o", hidden=True, help="Output destination"),
                ])


class BuildFailed(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.message, self.code = message, code or 1


def _key_values(items: list, from_env: bool) -> dict:
    out = {}
    for item in items:
        k, eq, v = item.partition("=")
        if eq:
            out[k] = v
        elif from_env:
            out[k] = os.environ.get(k)   # KEY alone: its value here, or none
        else:
            out[k] = ""
    return out


def _human(n: float) -> str:
    """units.HumanSize: 4 significant digits, decimal units."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000.0
        i += 1
    return f"{n:.4g}{units[i]}"


def context_tar(ctx_dir: str, dockerfile: str) -> tuple:
    """(the tar's bytes, the Dockerfile's name inside it) of a context
    directory; a Dockerfile outside it goes in under a name of its own."""
    from busybox_engine.build import ignore
    patterns = []
    try:
        with open(os.path.join(ctx_dir, ".dockerignore"), encoding="utf-8") as f:
            patterns = ignore.read_patterns(f.read())
    except FileNotFoundError:
        pass
    df_path = os.path.abspath(dockerfile) if dockerfile else os.path.join(ctx_dir, "Dockerfile")
    if not dockerfile and not os.path.exists(df_path) and os.path.exists(os.path.join(ctx_dir, "dockerfile")):
        df_path = os.path.join(ctx_dir, "dockerfile")
    if not os.path.exists(df_path):
        raise BuildFailed(f"unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat "
                          f"{df_path}: no such file or directory")
    rel_df = os.path.relpath(df_path, ctx_dir)
    inside = not rel_df.startswith("..")
    keep = {".dockerignore", rel_df} if inside else {".dockerignore"}
    exceptions = ignore.has_exceptions(patterns)
    buf = io.BytesIO()

    def add(tar, path: str, arc: str) -> None:
        info = tar.gettarinfo(path, arcname=arc)
        info.uid = info.gid = 0
        info.mtime = int(info.mtime)   # whole seconds, no PAX record: as Go writes it
        info.uname = info.gname = ""
        if info.isreg():
            with open(path, "rb") as f:
                tar.addfile(info, f)
        else:
            tar.addfile(info)

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(ctx_dir):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, ctx_dir)
            rel_dir = "" if rel_dir == "." else rel_dir
            kept_dirs = []
            for d in dirnames:
                rel = f"{rel_dir}/{d}" if rel_dir else d
                if ignore.excluded(patterns, rel):
                    if exceptions:
                        kept_dirs.append(d)   # something under it may be taken back
                    continue
                add(tar, os.path.join(dirpath, d), rel)
                if os.path.islink(os.path.join(dirpath, d)):
                    continue
                kept_dirs.append(d)
            dirnames[:] = kept_dirs
            for name in sorted(filenames):
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if rel not in keep and ignore.excluded(patterns, rel):
                    continue
                add(tar, os.path.join(dirpath, name), rel)
        if not inside:
            name = f".dockerfile.{os.urandom(10).hex()}"
            add(tar, df_path, name)
            rel_df = name
        end = tar.offset
    # the end-of-archive blocks without tarfile's padding to a whole record (as Go writes it)
    return buf.getvalue()[:end + 1024], rel_df


def build(ctx, v, args) -> int:
    src = args[0]
    dockerfile_name = ""
    if src == "-":
        data = sys.stdin.buffer.read()
        from busybox_engine.build import looks_like_archive
        if looks_like_archive(data[:512]):
            body = data
            dockerfile_name = v.file or "Dockerfile"
        else:   # a Dockerfile on stdin, no context
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                info = tarfile.TarInfo("Dockerfile")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            body, dockerfile_name = buf.getvalue(), "Dockerfile"
    elif src.startswith(("http://", "https://", "git://", "git@", "github.com/")):
        sys.stderr.write("unable to prepare context: remote build contexts (git, URL) are not supported "
                         "by this client\n")
        return 1
    else:
        if not os.path.isdir(src):
            sys.stderr.write(f"unable to prepare context: path {src!r} not found\n".replace("'", '"'))
            return 1
        try:
            body, dockerfile_name = context_tar(src, v.file)
        except BuildFailed as e:
            sys.stderr.write(e.message + "\n")
            return 1
    if v.compress:
        import gzip
        body = gzip.compress(body, 6)
    query = {"t": list(v.tag), "dockerfile": dockerfile_name, "q": "1" if v.quiet else None,
             "nocache": "1" if v.no_cache else None, "rm": "1" if v.rm else "0",
             "forcerm": "1" if v.force_rm else None, "pull": "1" if v.pull else None,
             "buildargs": json.dumps(_key_values(v.build_arg, True)),
             "labels": json.dumps(_key_values(v.label, False)),
             "networkmode": v.network, "target": v.target or None, "extrahosts": list(v.add_host),
             "cachefrom": json.dumps(list(v.cache_from)), "memory": v.memory or None,
             "memswap": v.memory_swap or None, "cpushares": v.cpu_shares or None,
             "cpusetcpus": v.cpuset_cpus or None, "cpusetmems": v.cpuset_mems or None,
             "cpuperiod": v.cpu_period or None, "cpuquota": v.cpu_quota or None,
             "shmsize": v.shm_size or None, "cgroupparent": v.cgroup_parent or None,
             "isolation": v.isolation or None, "squash": "1" if v.squash else None,
             "platform": v.platform or None,
             "version": "1"}
    if not v.quiet:
        sys.stdout.write(f"Sending build context to Docker daemon  {_human(len(body))}\r\r\n")
        sys.stdout.flush()
    headers = {"Content-Type": "application/x-tar"}
    headers.update(_registry_config(ctx))
    image_id, code = _show(ctx.api.stream("POST", "/build", query, body=body, headers=headers).chunks, v.quiet)
    if code is not None:
        return code
    if v.iidfile and image_id:
        with open(v.iidfile, "w") as f:
            f.write(image_id)
    return 0


def _registry_config(ctx) -> dict:
    """X-Registry-Config: every registry's credentials the client has (the
    daemon picks the one a FROM image's pull needs), as the Go CLI sends."""
    import base64
    from busybox_engine.cli.commands.registry import credentials
    auths = {}
    for server in (ctx.config.get("auths") or {}):
        creds = credentials(ctx, server)
        if creds:
            auths[server] = creds
    if not auths:
        return {}
    return {"X-Registry-Config": base64.urlsafe_b64encode(json.dumps(auths).encode()).decode()}


def _show(chunks, quiet: bool) -> tuple:
    """Print the build's messages; (image id, None), or (None, exit code)
    after printing the error (quiet: with the output held back)."""
    from busybox_engine.cli.commands.registry import lines
    image_id, held, out = "", [], sys.stdout
    for line in lines(chunks):
        try:
            msg = json.loads(line)
        except ValueError:
            continue   # blank, or not JSON
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("errorDetail") or {}
            out.flush()
            sys.stderr.write("".join(held) + (detail.get("message") or msg.get("error")) + "\n")
            return None, int(detail.get("code") or 1)
        aux = msg.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            image_id = aux["ID"]
            continue
        text = msg.get("stream") or (msg.get("status") and msg["status"] + "\n") or ""
        if not quiet:
            out.write(text)
            out.flush()
        elif not text.startswith("sha256:"):
            held.append(text)
    if quiet and image_id:
        out.write(image_id + "\n")
    out.flush()
    return image_id, None


SPECS = {"build": (BUILD, build)}
