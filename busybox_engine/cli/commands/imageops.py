"""docker history, save, load, import and image prune."""
import os
import sys
import time

from busybox_engine.cli.api import filters_json, q
from busybox_engine.cli.commands.containers import short_id
from busybox_engine.cli.commands.objects import confirm
from busybox_engine.cli.flags import Command, Flag
from busybox_engine.cli.output import ellipsis, human_size, parse_format
from busybox_engine.util.timefmt import human_duration


class HistoryRow:
    def __init__(self, h: dict, trunc: bool, human: bool):
        self.h = h
        self.trunc = trunc
        self.human = human

    def ID(self):
        i = self.h.get("Id") or ""
        if i in ("", "<missing>"):
            return "<missing>"
        return short_id(i) if self.trunc else i

    def CreatedSince(self):
        if not self.human:
            return self.CreatedAt()
        return human_duration(time.time() - (self.h.get("Created") or 0)) + " ago"

    def CreatedAt(self):
        t = time.localtime(self.h.get("Created") or 0)
        off = t.tm_gmtoff
        sign = "+" if off >= 0 else "-"
        off = abs(off)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + (
            "Z" if not t.tm_gmtoff else f"{sign}{off // 3600:02d}:{off % 3600 // 60:02d}")

    def CreatedBy(self):
        by = (self.h.get("CreatedBy") or "").replace("\t", " ")
        return ellipsis(by, 45) if self.trunc else by

    def Size(self):
        n = self.h.get("Size") or 0
        return human_size(n) if self.human else str(n)

    def Comment(self):
        return self.h.get("Comment") or ""

    def json_dict(self):
        return {k: getattr(self, k)() for k in ("Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size")}


HISTORY = Command("docker history", "docker history [OPTIONS] IMAGE", "Show the history of an image", exact_args=1,
                  flags=[
                      Flag("format", "string", help="Pretty-print images using a Go template"),
                      Flag("human", short="H", default=True, help="Print sizes and dates in human readable format"),
                      Flag("no-trunc", help="Don't truncate output"),
                      Flag("quiet", short="q", help="Only show image IDs"),
                  ])

HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
                   "Size": "SIZE", "Comment": "COMMENT"}


def history(ctx, v, args) -> int:
    fmt = v.format or "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    if v.quiet:
        fmt = "{{.ID}}"
    elif fmt == "table":
        fmt = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    formatter = parse_format(fmt, HISTORY_HEADERS)
    items = ctx.api.get(f"/images/{q(args[0])}/history") or []
    sys.stdout.write(formatter.render([HistoryRow(h, not v.no_trunc, v.human) for h in items]))
    return 0


SAVE = Command("docker save", "docker save [OPTIONS] IMAGE [IMAGE...]",
               "Save one or more images to a tar archive (streamed to STDOUT by default)", min_args=1, flags=[
                   Flag("output", "string", short="o", help="Write to a file, instead of STDOUT"),
               ])


def save(ctx, v, args) -> int:
    if not v.output and os.isatty(1):
        sys.stderr.write("cowardly refusing to save to a terminal. Use the -o flag or redirect\n")
        return 1
    resp = ctx.api.stream("GET", "/images/get", {"names": list(args)})
    from busybox_engine.cli.commands.containerops import _to_output
    return _to_output(resp, v.output)


LOAD = Command("docker load", "docker load [OPTIONS]", "Load an image from a tar archive or STDIN", max_args=0,
               flags=[
                   Flag("input", "string", short="i", help="Read from tar archive file, instead of STDIN"),
                   Flag("quiet", short="q", help="Suppress the load output"),
               ])


def _body_from(path: str):
    """What to send: a file's bytes, or stdin's."""
    if path:
        with open(path, "rb") as f:
            return f.read()
    return sys.stdin.buffer.read()


def load(ctx, v, args) -> int:
    if not v.input and os.isatty(0):
        sys.stderr.write("requested load from stdin, but stdin is empty\n")
        return 1
    try:
        body = _body_from(v.input)
    except OSError as e:
        sys.stderr.write(f"open {v.input}: {(e.strerror or '').lower()}\n" if v.input else
                         f"read from stdin: {e.strerror or e}\n")
        return 1
    from busybox_engine.cli.commands.registry import show_stream
    return show_stream(ctx, "POST", "/images/load", {"quiet": "1" if v.quiet else "0"}, sys.stdout, body=body,
                       headers={"Content-Type": "application/x-tar"})


IMPORT = Command("docker import", "docker import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
                 "Import the contents from a tarball to create a filesystem image", min_args=1, max_args=2, flags=[
                     Flag("change", "list", short="c", help="Apply Dockerfile instruction to the created image"),
                     Flag("message", "string", short="m", help="Set commit message for imported image"),
                     Flag("platform", "string", help="Set platform if server is multi-platform capable"),
                 ])


def import_(ctx, v, args) -> int:
    src = args[0]
    repo, tag = "", ""
    if len(args) == 2:
        head, sep, tail = args[1].rpartition(":")
        repo, tag = (head, tail) if sep and "/" not in tail else (args[1], "")
    query = {"repo": repo or None, "tag": tag or None, "message": v.message or None, "changes": v.change,
             "platform": v.platform or None}
    body = None
    if src.startswith(("http://", "https://")):
        query["fromSrc"] = src
    else:
        query["fromSrc"] = "-"
        try:
            body = _body_from("" if src == "-" else src)
        except OSError as e:
            sys.stderr.write(f"open {src}: {(e.strerror or '').lower()}\n")
            return 1
    from busybox_engine.cli.commands.registry import show_stream
    return show_stream(ctx, "POST", "/images/create", query, sys.stdout, body=body if body is not None else b"",
                       headers={"Content-Type": "application/x-tar"} if body is not None else None)


IMAGE_PRUNE = Command("docker image prune", "docker image prune [OPTIONS]", "Remove unused images", max_args=0, flags=[
    Flag("all", short="a", help="Remove all unused images, not just dangling ones"),
    Flag("filter", "filter", help="Provide filter values (e.g. 'until=<timestamp>')"),
    Flag("force", short="f", help="Do not prompt for confirmation"),
])


def image_prune(ctx, v, args) -> int:
    warning = ("WARNING! This will remove all images without at least one container associated to them."
               if v.all else "WARNING! This will remove all dangling images.")
    if not v.force and not confirm(warning):
        return 0
    filters = list(v.filter) + [f"dangling={'false' if v.all else 'true'}"]
    out = ctx.api.post("/images/prune", {"filters": filters_json(filters)}).json() or {}
    deleted = out.get("ImagesDeleted") or []
    if deleted:
        lines = []
        for d in deleted:
            if d.get("Untagged"):
                lines.append(f"untagged: {d['Untagged']}\n")
            if d.get("Deleted"):
                lines.append(f"deleted: {d['Deleted']}\n")
        sys.stdout.write("Deleted Images:\n" + "".join(lines) + "\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(out.get('SpaceReclaimed') or 0)}\n")
    return 0


SPECS = {"history": (HISTORY, history), "save": (SAVE, save), "load": (LOAD, load), "import": (IMPORT, import_),
         "image prune": (IMAGE_PRUNE, image_prune)}
