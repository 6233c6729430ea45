"""docker cp: paths inside a container's filesystem, resolved as the
container sees them (its symlinks followed inside its root, never out of
it), read into a tar or written from one.

A running container is reached through /proc/PID/root (its mounts and
volumes included); a stopped one through its snapshot, mounted by
containerd for the copy."""
import base64
import json
import os
import stat
import tarfile
import time

from busybox_engine.rpc.errors import InvalidArgument, NotFound

MAX_LINKS = 40


def resolve(root: str, path: str, follow_last: bool = True) -> str:
    """root + path with every symlink on the way resolved inside root (an
    absolute link target starts again at root; `..` stops at it)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    done = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(root, *done, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            done.append(part)
            done += [p for p in parts if p not in ("", ".")]
            break
        if stat.S_ISLNK(st.st_mode) and (parts or follow_last):
            links += 1
            if links > MAX_LINKS:
                raise InvalidArgument(f"{path}: too many levels of symbolic links")
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        done.append(part)
    # `..` entries after a missing component are normalised without the filesystem
    out = []
    for p in done:
        if p == "..":
            if out:
                out.pop()
        else:
            out.append(p)
    return os.path.join(root, *out)


def path_stat(root: str, path: str) -> dict:
    """X-Docker-Container-Path-Stat's JSON for path."""
    real = resolve(root, path, follow_last=False)
    try:
        st = os.lstat(real)
    except FileNotFoundError:
        raise NotFound(f"Could not find the file {path} in container") from None
    link = ""
    if stat.S_ISLNK(st.st_mode):
        link = os.readlink(real)
    mode = _go_mode(st.st_mode)
    return {"name": os.path.basename(path.rstrip("/")) or "/", "size": st.st_size, "mode": mode,
            "mtime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime)) + "Z",
            "linkTarget": link}


def _go_mode(m: int) -> int:
    """A stat mode as Go's os.FileMode bits (what the docker CLI decodes)."""
    out = m & 0o777
    if stat.S_ISDIR(m):
        out |= 1 << 31
    elif stat.S_ISLNK(m):
        out |= 1 << 27
    elif stat.S_ISFIFO(m):
        out |= 1 << 25
    elif stat.S_ISSOCK(m):
        out |= 1 << 24
    elif stat.S_ISCHR(m):
        out |= (1 << 26) | (1 << 21)
    elif stat.S_ISBLK(m):
        out |= 1 << 26
    if m & stat.S_ISUID:
        out |= 1 << 23
    if m & stat.S_ISGID:
        out |= 1 << 22
    if m & stat.S_ISVTX:
        out |= 1 << 20
    return out


def stat_header(st: dict) -> str:
    return base64.b64encode(json.dumps(st).encode()).decode()


def make_tar(root: str, path: str, out: str) -> None:
    """A tar of path (a file, a directory and everything in it, or a
    symlink itself), named by its base name as Docker names it."""
    follow = path.endswith("/") or path.endswith("/.")
    real = resolve(root, path.rstrip("/") if not follow else path, follow_last=follow)
    if not os.path.lexists(real):
        raise NotFound(f"Could not find the file {path} in container")
    name = os.path.basename(path.rstrip("/").rstrip(".").rstrip("/")) or "."
    if path.endswith("/."):
        name = "."
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(real, arcname=name, recursive=True)


def extract_tar(root: str, path: str, tar_path: str, no_overwrite_dir_non_dir: bool = False) -> None:
    """The tar's entries under path (a directory in the container); an
    entry that would land outside the container's root is refused."""
    dest = resolve(root, path)
    if not os.path.isdir(dest):
        if not os.path.lexists(dest):
            raise NotFound(f"Could not find the file {path} in container")
        raise InvalidArgument(f"extraction point is not a directory: {path}")
    root_real = os.path.realpath(root)
    try:
        tar = tarfile.open(tar_path, "r:*")
    except tarfile.TarError as e:
        raise InvalidArgument(f"not a tar archive: {e}") from None
    with tar:
        for member in tar:
            name = member.name.lstrip("/")
            target = resolve(root, os.path.join(path, name), follow_last=False)
            if not (target == root_real or target.startswith(root.rstrip("/") + "/")):
                raise InvalidArgument(f"{member.name}: outside the container's root")
            if member.issym() or member.islnk():
                if member.islnk():
                    link = resolve(root, os.path.join(path, member.linkname.lstrip("/")), follow_last=False)
                    if not link.startswith(root.rstrip("/") + "/"):
                        raise InvalidArgument(f"{member.name}: a hard link out of the container's root")
                    member.linkname = link
            existing = os.path.lexists(target)
            if existing and no_overwrite_dir_non_dir:
                if os.path.isdir(target) != member.isdir():
                    raise InvalidArgument(f"cannot overwrite {'directory' if os.path.isdir(target) else 'non-directory'} "
                                          f"{os.path.join(path, name)} with "
                                          f"{'directory' if member.isdir() else 'non-directory'}")
            if existing and not member.isdir() and not os.path.isdir(target):
                os.unlink(target)
            member.name = os.path.relpath(target, "/")
            tar.extract(member, "/", set_attrs=True, numeric_owner=True,
                        filter=lambda m, _p: m)
