"""docker images, tag, rmi."""
import sys
import time

from busybox_engine.cli.api import DaemonError, error_text, filters_json, q
from busybox_engine.cli.commands.containers import go_time, short_id
from busybox_engine.cli.flags import Command, Flag
from busybox_engine.cli.output import human_size, parse_format
from busybox_engine.util.timefmt import GO_ZERO_UNIX, human_duration

IMAGES_FORMAT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
                  "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
                  "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
                  "VirtualSize": "VIRTUAL SIZE"}


class ImageRow:
    def __init__(self, img: dict, repo: str, tag: str, digest: str, trunc: bool):
        self.i = img
        self.repo = repo
        self.tag = tag
        self.digest = digest
        self.trunc = trunc

    def ID(self):
        return short_id(self.i.get("Id", "")) if self.trunc else self.i.get("Id", "")

    def Repository(self):
        return self.repo

    def Tag(self):
        return self.tag

    def Digest(self):
        return self.digest

    def CreatedSince(self):
        if self.i.get("Created") == GO_ZERO_UNIX:
            return "N/A"     # an image without a date, as the 20.10 client shows it
        return human_duration(time.time() - (self.i.get("Created") or 0)) + " ago"

    def CreatedAt(self):
        if self.i.get("Created") == GO_ZERO_UNIX:
            return "0001-01-01 00:00:00 +0000 UTC"
        return go_time(self.i.get("Created", 0))

    def Size(self):
        return human_size(self.i.get("Size") or 0)

    def VirtualSize(self):
        return human_size(self.i.get("VirtualSize") or self.i.get("Size") or 0)

    def SharedSize(self):
        s = self.i.get("SharedSize", -1)
        return "N/A" if s is None or s < 0 else human_size(s)

    def UniqueSize(self):
        s = self.i.get("SharedSize", -1)
        return "N/A" if s is None or s < 0 else human_size((self.i.get("Size") or 0) - s)

    def Containers(self):
        c = self.i.get("Containers", -1)
        return "N/A" if c is None or c < 0 else str(c)

    def json_dict(self):
        return {k: getattr(self, k)() for k in ("Containers", "CreatedAt", "CreatedSince", "Digest", "ID",
                                                 "Repository", "SharedSize", "Size", "Tag", "UniqueSize",
                                                 "VirtualSize")}


def _rows(images: list, trunc: bool, show_digests: bool, show_all_dangling: bool) -> list:
    """One row per repository:tag, as the docker CLI's imageFormat: an
    image without tags shows <none>, digests fill in where known."""
    rows = []
    for img in images:
        tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"]
        digests = [d for d in img.get("RepoDigests") or [] if d != "<none>@<none>"]
        by_repo = {}
        for t in tags:
            repo, _, tag = t.rpartition(":")
            if "/" in tag:           # a registry port, no tag
                repo, tag = t, ""
            by_repo.setdefault(repo, {"tags": [], "digests": []})["tags"].append(tag)
        for d in digests:
            repo, _, dg = d.partition("@")
            by_repo.setdefault(repo, {"tags": [], "digests": []})["digests"].append(dg)
        if not by_repo:
            rows.append(ImageRow(img, "<none>", "<none>", "<none>", trunc))
            continue
        for repo, ent in by_repo.items():
            dg = ent["digests"][0] if ent["digests"] else "<none>"
            if not ent["tags"]:
                rows.append(ImageRow(img, repo, "<none>", dg, trunc))
            for tag in ent["tags"]:
                rows.append(ImageRow(img, repo, tag, dg, trunc))
    return rows


IMAGES = Command("docker images", "docker images [OPTIONS] [REPOSITORY[:TAG]]", "List images", max_args=1,
                 flags=[
                     Flag("all", short="a", help="Show all images (default hides intermediate images)"),
                     Flag("digests", help="Show digests"),
                     Flag("filter", "filter", short="f", help="Filter output based on conditions provided"),
                     Flag("format", "string", help="Pretty-print images using a Go template"),
                     Flag("no-trunc", help="Don't truncate output"),
                     Flag("quiet", short="q", help="Only show image IDs"),
                 ])


def images(ctx, v, args) -> int:
    fmt = v.format or ctx.config.get("imagesFormat") or ""
    if v.quiet:
        fmt = "{{.ID}}"
    elif not fmt or fmt == "table":
        fmt = IMAGES_FORMAT
        if v.digests:
            fmt = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    formatter = parse_format(fmt, IMAGES_HEADERS)
    filters = list(v.filter)
    if args:
        filters.append(f"reference={args[0]}")
    items = ctx.api.get("/images/json", {"all": "1" if v.all else None, "filters": filters_json(filters)})
    items.sort(key=lambda i: i.get("Created", 0), reverse=True)
    rows = _rows(items, not v.no_trunc, v.digests, v.all)
    sys.stdout.write(formatter.render(rows))
    return 0


TAG = Command("docker tag", "docker tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
              "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", exact_args=2)


def tag(ctx, v, args) -> int:
    src, target = args
    repo, tg = target, ""
    head, sep, tail = target.rpartition(":")
    if sep and "/" not in tail:
        repo, tg = head, tail
    ctx.api.post(f"/images/{q(src)}/tag", {"repo": repo, "tag": tg or None})
    return 0


RMI = Command("docker rmi", "docker rmi [OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", min_args=1,
              flags=[
                  Flag("force", short="f", help="Force removal of the image"),
                  Flag("no-prune", help="Do not delete untagged parents"),
              ])


def rmi(ctx, v, args) -> int:
    failed = False
    for n in args:
        try:
            out = ctx.api.delete(f"/images/{q(n)}", {"force": "1" if v.force else None,
                                                      "noprune": "1" if v.no_prune else None}).json() or []
        except DaemonError as e:
            sys.stdout.flush()
            sys.stderr.write(error_text(e, "image", n) + "\n")
            failed = True
            continue
        for item in out:
            if item.get("Untagged"):
                sys.stdout.write(f"Untagged: {item['Untagged']}\n")
            elif item.get("Deleted"):
                sys.stdout.write(f"Deleted: {item['Deleted']}\n")
    return 1 if failed else 0


SPECS = {"images": (IMAGES, images), "tag": (TAG, tag), "rmi": (RMI, rmi)}
