"""What a container changed: its overlay upper directory read as Docker
reads it, for `docker diff` (a list of changes) and `docker commit` (a
layer tar with Docker's whiteouts).

Mount points the runtime makes in a fresh rootfs (/proc, /sys, /dev,
/etc/hosts, ...) are not the user's changes: Docker keeps them in a
hidden init layer; we leave them out, and a directory copied up only to
hold them.
"""
import os
import stat
import tarfile

from busybox_engine.image.unpack import OPAQUE, WHITEOUT

MODIFY, ADD, DELETE = 0, 1, 2
INIT_TREES = ("dev", "proc", "sys")
INIT_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab", ".dockerenv")


def _is_init(rel: str) -> bool:
    return rel in INIT_FILES or rel.split("/", 1)[0] in INIT_TREES


def _is_whiteout(st) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


class Change:
    __slots__ = ("rel", "kind", "path", "st", "opaque")

    def __init__(self, rel, kind, path, st, opaque=False):
        self.rel, self.kind, self.path, self.st, self.opaque = rel, kind, path, st, opaque


def walk(upper: str, lowers: list) -> list:
    """The changes in upper over lowers (topmost first), parents before
    their children, in name order."""
    out = []
    _walk(upper, "", lowers, out)
    return out


def _in_lower(lowers: list, rel: str):
    for d in lowers:
        try:
            return os.lstat(os.path.join(d, rel))
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            return None
    return None


def _walk(upper: str, prefix: str, lowers: list, out: list) -> bool:
    """Append the changes under upper/prefix; True when something was left
    out as init (so the directory's own mtime says nothing)."""
    skipped = False
    try:
        names = sorted(os.listdir(os.path.join(upper, prefix)))
    except OSError:
        return False
    for name in names:
        rel = f"{prefix}/{name}" if prefix else name
        if _is_init(rel):
            skipped = True
            continue
        path = os.path.join(upper, rel)
        st = os.lstat(path)
        if _is_whiteout(st):
            out.append(Change(rel, DELETE, path, st))
            continue
        lower = _in_lower(lowers, rel)
        if not stat.S_ISDIR(st.st_mode):
            out.append(Change(rel, MODIFY if lower is not None else ADD, path, st))
            continue
        opaque = _opaque(path)
        mark = len(out)
        out.append(None)  # the directory goes before its children
        child_skipped = _walk(upper, rel, [] if opaque else lowers, out)
        if lower is None or not stat.S_ISDIR(lower.st_mode):
            out[mark] = Change(rel, ADD, path, st, opaque)
        elif (len(out) > mark + 1 or opaque
              or (not child_skipped and (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns)
                  != (lower.st_mode, lower.st_uid, lower.st_gid, lower.st_mtime_ns))):
            out[mark] = Change(rel, MODIFY, path, st, opaque)
        else:
            del out[mark]  # copied up only for a mount point
            skipped = True
    return skipped


def changes(upper: str, lowers: list) -> list:
    """[{"Path", "Kind"}] as Docker's /containers/{id}/changes."""
    return [{"Path": "/" + c.rel, "Kind": c.kind} for c in walk(upper, lowers)]


def write_tar(upper: str, lowers: list, fileobj) -> None:
    """The changes as a layer tar: deletions as `.wh.NAME`, an opaque
    directory with `.wh..wh..opq` in it."""
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for c in walk(upper, lowers):
            if c.kind == DELETE:
                head, _, base = c.rel.rpartition("/")
                info = tarfile.TarInfo((head + "/" if head else "") + WHITEOUT + base)
                info.mtime = int(c.st.st_mtime)
                tar.addfile(info)
                continue
            if stat.S_ISSOCK(c.st.st_mode):
                continue  # tar has no sockets, nor does Docker's layer
            info = tar.gettarinfo(c.path, c.rel)
            info.uname = info.gname = ""
            if info.isreg():
                with open(c.path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
            if c.opaque:
                marker = tarfile.TarInfo(c.rel + "/" + OPAQUE)
                marker.mtime = int(c.st.st_mtime)
                tar.addfile(marker)
