"""A new volume filled from the image, as Docker fills it: an empty volume
mounted where the image has a directory gets that directory's content,
owners and modes (unless `nocopy`)."""
import os
import shutil
import stat

from busybox_engine.api.copy import resolve


def nocopy_targets(host_config: dict) -> set:
    """Mount destinations the user asked not to fill."""
    from busybox_engine.api.spec import split_bind
    out = set()
    for text in host_config.get("Binds") or []:
        _src, dst, opts = split_bind(text)
        if "nocopy" in opts:
            out.add(dst)
    for m in host_config.get("Mounts") or []:
        if isinstance(m, dict) and (m.get("VolumeOptions") or {}).get("NoCopy"):
            out.add(m.get("Target"))
    return out


def wanted(points: list, nocopy: set) -> list:
    return [p for p in points if p.get("Type") == "volume" and p["Destination"] not in nocopy]


def populate(root: str, points: list) -> None:
    """Copy root+destination into each empty volume of points."""
    for p in points:
        data = p["Source"]
        try:
            if os.listdir(data):
                continue   # a volume with content keeps it
            src = resolve(root, p["Destination"])
            st = os.lstat(src)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        _copy_meta(src, data, st)
        _copy_tree(src, data)


def _copy_meta(src: str, dst: str, st) -> None:
    os.lchown(dst, st.st_uid, st.st_gid)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_tree(src: str, dst: str) -> None:
    # no symlink is followed: the image's links are copied as links
    with os.scandir(src) as it:
        entries = list(it)
    for e in entries:
        s, d = e.path, os.path.join(dst, e.name)
        st = e.stat(follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(d)
            _copy_tree(s, d)
        elif stat.S_ISREG(mode):
            with open(s, "rb") as fin, open(d, "xb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(s), d)
        elif stat.S_ISFIFO(mode):
            os.mkfifo(d)
        else:
            continue   # devices and sockets stay in the image
        _copy_meta(s, d, st)
