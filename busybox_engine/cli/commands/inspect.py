"""docker inspect: containers, images, volumes and networks by name or ID."""
import sys

from busybox_engine.cli import fastjson as json
from busybox_engine.cli.api import DaemonError, q
from busybox_engine.cli.flags import Command, Flag
from busybox_engine.cli.goformat import TemplateError
from busybox_engine.cli.output import compile_template
from busybox_engine.cli.jsonfmt import indent_list

INSPECT = Command("docker inspect", "docker inspect [OPTIONS] NAME|ID [NAME|ID...]",
                  "Return low-level information on Docker objects", min_args=1, flags=[
                      Flag("format", "string", short="f", help="Format the output using the given Go template"),
                      Flag("size", short="s", help="Display total file sizes if the type is container"),
                      Flag("type", "string", help="Return JSON for specified type"),
                  ])

KINDS = {"container": "/containers/{}/json", "image": "/images/{}/json", "volume": "/volumes/{}",
         "network": "/networks/{}"}


def _fetch(ctx, name: str, kind: str, size: bool):
    kinds = [kind] if kind else ["container", "image", "network", "volume"]
    for k in kinds:
        query = {"size": "1"} if size and k == "container" else None
        try:
            return ctx.api.request("GET", KINDS[k].format(q(name)), query).body.decode()
        except DaemonError as e:
            if e.status != 404:
                raise
    return None


def inspect(ctx, v, args) -> int:
    if v.type and v.type not in KINDS:
        sys.stderr.write(f'"{v.type}" is not a valid value for --type\n')
        return 1
    tmpl = None
    if v.format:
        try:
            tmpl = compile_template(v.format)
        except TemplateError as e:
            sys.stderr.write(f"template parsing error: {e}\n")
            return 64
    raws, missing = [], []
    for n in args:
        try:
            raw = _fetch(ctx, n, v.type, v.size)
        except DaemonError as e:
            sys.stderr.write(f"Error response from daemon: {e.message}\n")
            return 1
        if raw is None:
            missing.append(n)
            continue
        if tmpl is None:
            raws.append(raw)
            continue
        try:
            sys.stdout.write(tmpl.render(json.loads(raw)) + "\n")
        except TemplateError as e:
            sys.stdout.flush()
            sys.stderr.write(f"{e}\n")
            return 1
    if tmpl is None:
        sys.stdout.write(indent_list(raws) + "\n")
    if missing:
        sys.stdout.flush()
        what = f"{v.type}" if v.type else "object"
        sys.stderr.write("".join(f"Error: No such {what}: {n}\n" for n in missing))
        return 1
    return 0


def _typed(kind: str, usage: str, short: str):
    """`docker image inspect` and `docker container inspect`: one kind only."""
    flags = [Flag("format", "string", short="f", help="Format the output using the given Go template")]
    if kind == "container":
        flags.append(Flag("size", short="s", help="Display total file sizes"))
    spec = Command(f"docker {kind} inspect", usage, short, min_args=1, flags=flags)

    def run(ctx, v, args) -> int:
        v["type"] = kind
        v.setdefault("size", False)
        return inspect(ctx, v, args)
    return spec, run


SPECS = {"inspect": (INSPECT, inspect),
         "image inspect": _typed("image", "docker image inspect [OPTIONS] IMAGE [IMAGE...]",
                                 "Display detailed information on one or more images"),
         "container inspect": _typed("container", "docker container inspect [OPTIONS] CONTAINER [CONTAINER...]",
                                     "Display detailed information on one or more containers")}
