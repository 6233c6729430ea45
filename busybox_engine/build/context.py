"""The build context and COPY/ADD: sources found in the context (or in an
earlier stage's filesystem), checked never to leave it, and copied into a
container's root with Docker's rules for the destination, ownership and
archives. Everything runs in a worker thread of dockerd."""
import fnmatch
import hashlib
import os
import posixpath
import shutil
import stat
import tarfile

from busybox_engine.api.copy import resolve
from busybox_engine.build.instructions import BuildError

def check_tar(path: str) -> None:
    """Refuse a context tar with an entry, or a link, that climbs out of
    it, as Docker's untar does (the extraction itself stays inside too)."""
    try:
        tar = tarfile.open(path, "r:*")
    except tarfile.TarError as e:
        raise BuildError(f"the build context is not a tar archive: {e}") from None
    with tar:
        for m in tar:
            name = posixpath.normpath("/" + m.name) if m.name.startswith("/") else posixpath.normpath(m.name)
            if name == ".." or name.startswith("../"):
                raise BuildError(f"{m.name!r} is outside of the build context")
            if m.issym() and not m.linkname.startswith("/"):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(name.lstrip("/")), m.linkname))
                if target == ".." or target.startswith("../"):
                    raise BuildError(f"invalid symlink {m.name!r} -> {m.linkname!r}")
            if m.islnk():
                target = posixpath.normpath(m.linkname.lstrip("/"))
                if target == ".." or target.startswith("../"):
                    raise BuildError(f"invalid hardlink {m.name!r} -> {m.linkname!r}")


def dockerfile_path(ctx: str, name: str) -> str:
    """The Dockerfile inside the context (`dockerfile` of the request)."""
    name = name or "Dockerfile"
    rel = posixpath.normpath("/" + name).lstrip("/")
    for candidate in ([rel, "dockerfile"] if name == "Dockerfile" else [rel]):
        path = resolve(ctx, candidate)
        if os.path.isfile(path):
            return path
    raise BuildError(f"Cannot locate specified Dockerfile: {name}")


def _clean_source(src: str, what: str) -> str:
    norm = posixpath.normpath(src)
    if norm == ".." or norm.startswith("../"):
        raise BuildError(f"{what} failed: forbidden path outside the build context: {src} ()")
    return norm.lstrip("/") if norm != "/" else "."


def sources(root: str, srcs: list, what: str) -> list:
    """[(path as given, real path inside root)] of the sources; wildcards
    matched against the files of root."""
    out = []
    for src in srcs:
        rel = _clean_source(src, what)
        if any(ch in rel for ch in "*?["):
            found = _glob(root, rel)
            if not found:
                raise BuildError(f"{what} failed: no source files were specified")
            out += [(f, resolve(root, f)) for f in found]
            continue
        real = resolve(root, rel)
        if not os.path.exists(real):
            raise BuildError(f"{what} failed: file not found in build context or excluded by "
                             f".dockerignore: stat {src}: file does not exist")
        out.append((src, real))
    return out


def _glob(root: str, pattern: str) -> list:
    """Paths (relative to root) matching pattern, component by component."""
    parts = pattern.split("/")
    found = [""]
    for i, part in enumerate(parts):
        nxt = []
        for base in found:
            d = resolve(root, base) if base else root
            if not any(ch in part for ch in "*?["):
                cand = posixpath.join(base, part) if base else part
                if os.path.lexists(resolve(root, cand, follow_last=False)):
                    nxt.append(cand)
                continue
            try:
                names = sorted(os.listdir(d))
            except OSError:
                continue
            nxt += [posixpath.join(base, n) if base else n for n in names if fnmatch.fnmatchcase(n, part)]
        found = nxt
    return found


def source_hash(items: list) -> str:
    """"file:HASH", "dir:HASH" or "multi:HASH" of what is copied, for the
    step's history line."""
    h = hashlib.sha256()
    for _given, real in items:
        for path in _walk(real):
            st = os.lstat(path)
            h.update(f"{os.path.relpath(path, real)}\0{st.st_mode}\0{st.st_size}\0".encode())
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
            elif stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(path).encode())
    kind = "multi" if len(items) > 1 else ("dir" if os.path.isdir(items[0][1]) else "file")
    return f"{kind}:{h.hexdigest()}"


def _walk(top: str):
    yield top
    if os.path.isdir(top) and not os.path.islink(top):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for n in sorted(dirnames + filenames):
                yield os.path.join(dirpath, n)


def _lookup(root: str, table: str, name: str, field: int = 2) -> int | None:
    """A numeric field of name's line in the container's /etc/passwd or
    /etc/group (2: its id; 3 of passwd: its primary group)."""
    try:
        with open(resolve(root, f"/etc/{table}")) as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) > field and fields[0] == name:
                    return int(fields[field])
    except (OSError, ValueError):
        pass
    return None


def owner(root: str, chown: str) -> tuple:
    """--chown=user[:group] as (uid, gid), names looked up in the
    container's /etc/passwd and /etc/group."""
    if not chown:
        return 0, 0
    user, _, group = chown.partition(":")
    uid = int(user) if user.isdigit() else _lookup(root, "passwd", user)
    if uid is None:
        raise BuildError(f"unable to convert uid/gid chown string to host mapping: can't find uid for "
                         f"user {user}: no such user: {user}")
    if not group:
        gid = uid if user.isdigit() else (_lookup(root, "passwd", user, field=3) or 0)
    else:
        gid = int(group) if group.isdigit() else _lookup(root, "group", group)
        if gid is None:
            raise BuildError(f"unable to convert uid/gid chown string to host mapping: can't find gid for "
                             f"group {group}: no such group: {group}")
    return uid, gid


def _mkdirs(root: str, path: str, ids: tuple) -> str:
    """path (inside root) made with its missing parents, owned by ids."""
    real = resolve(root, path)
    missing = []
    cur = real
    while not os.path.lexists(cur) and cur != root:
        missing.append(cur)
        cur = os.path.dirname(cur)
    for d in reversed(missing):
        os.mkdir(d, 0o755)
        os.lchown(d, *ids)
    if not os.path.isdir(real):
        raise BuildError(f"cannot copy to {path}: not a directory")
    return real


def _copy_entry(src: str, dst: str, ids: tuple | None) -> None:
    """One file, link or directory's own inode (mode, times, owner)."""
    st = os.lstat(src)
    if os.path.lexists(dst) and not (stat.S_ISDIR(st.st_mode) and os.path.isdir(dst)
                                     and not os.path.islink(dst)):
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        else:
            os.unlink(dst)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISDIR(st.st_mode):
        if not os.path.isdir(dst):
            os.mkdir(dst)
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(src, dst, follow_symlinks=False)
    else:
        os.mknod(dst, st.st_mode, st.st_rdev)
    uid, gid = ids if ids is not None else (st.st_uid, st.st_gid)
    os.lchown(dst, uid, gid)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_tree(src: str, dst: str, ids: tuple | None) -> None:
    """src's contents into the directory dst (symlinks copied as links)."""
    for name in sorted(os.listdir(src)):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        _copy_entry(s, d, ids)
        if os.path.isdir(s) and not os.path.islink(s):
            _copy_tree(s, d, ids)
            st = os.lstat(s)
            os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))


def is_archive(path: str) -> bool:
    from busybox_engine.build import looks_like_archive
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        return looks_like_archive(f.read(512))


def copy_into(root: str, items: list, dest: str, workdir: str, chown: str, what: str,
              extract: bool = False) -> None:
    """COPY/ADD: the sources into the container root, at dest (relative to
    workdir). extract: local archives are unpacked (ADD)."""
    ids = owner(root, chown)
    dest_dir = dest.endswith("/") or dest.endswith("/.") or dest == "."
    dest = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    if len(items) > 1 and not dest_dir:
        raise BuildError(f"When using {what} with more than one source file, the destination must be a "
                         "directory and end with a /")
    for _given, real in items:
        if os.path.isdir(real):
            target = _mkdirs(root, dest, ids)
            _copy_tree(real, target, ids)
            continue
        if extract and is_archive(real):
            _extract(root, real, dest)
            continue
        existing = resolve(root, dest)
        if dest_dir or os.path.isdir(existing):
            parent = _mkdirs(root, dest, ids)
            target = os.path.join(parent, os.path.basename(real))
        else:
            parent = _mkdirs(root, posixpath.dirname(dest.rstrip("/")) or "/", ids)
            target = os.path.join(parent, posixpath.basename(dest.rstrip("/")))
            # the final name resolved inside the root too (it may be a link)
            target = resolve(root, os.path.relpath(target, root))
        _copy_entry(real, target, ids)


def _extract(root: str, archive: str, dest: str) -> None:
    """ADD of a local tar: its entries under dest, none outside the root."""
    _mkdirs(root, dest, (0, 0))
    from busybox_engine.api.copy import extract_tar
    try:
        extract_tar(root, dest, archive)
    except tarfile.TarError as e:
        raise BuildError(f"ADD failed: {e}") from None


def fetch_url(url: str, tmpdir: str) -> tuple:
    """ADD of a URL: (the file downloaded into tmpdir, its name)."""
    import urllib.parse
    import urllib.request
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "__unnamed__"
    path = os.path.join(tmpdir, "url-" + hashlib.sha256(url.encode()).hexdigest()[:16])
    os.makedirs(path, exist_ok=True)
    out = os.path.join(path, name)
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(out, "wb") as f:
            shutil.copyfileobj(r, f)
            modified = r.headers.get("Last-Modified")
    except (OSError, ValueError) as e:
        raise BuildError(f"failed to GET {url}: {e}") from None
    os.chmod(out, 0o600)
    if modified:
        from email.utils import parsedate_to_datetime
        try:
            t = parsedate_to_datetime(modified).timestamp()
            os.utime(out, (t, t))
        except (TypeError, ValueError):
            pass
    return out, name
