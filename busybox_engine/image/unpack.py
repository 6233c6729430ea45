"""Unpack a layer tar into a directory, safely, converting whiteouts.

Every entry is created relative to its parent directory opened with
openat2(RESOLVE_IN_ROOT): a `../` name, an absolute name or a symlink
planted by an earlier entry cannot put anything outside the directory.
Docker whiteouts become overlayfs ones: `.wh.NAME` a 0:0 character device,
`.wh..wh..opq` the trusted.overlay.opaque xattr on its directory. Device
nodes other than whiteouts are not created (contained, not trusted).
"""
import os
import stat

from busybox_engine.image.tarstream import Entry, TarReader
from busybox_engine.rpc.errors import InvalidArgument

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def clean_name(name: str) -> str:
    """A layer path, relative, without `.` or empty parts; `..` refused."""
    parts = []
    for p in name.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            raise InvalidArgument(f"layer entry {name!r}: '..' is not allowed")
        parts.append(p)
    return "/".join(parts)


class Extractor:
    def __init__(self, dest: str):
        from busybox_engine.core_pyx import mounts
        self.m = mounts
        self.root = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        # into an empty directory (a new snapshot), a name not written yet
        # needs no look for something to replace: one syscall less a file
        self.fresh = not os.listdir(dest)
        self.seen = set()
        self._cached = None  # (parent path, fd): tars list a directory's files together
        # what a new file gets without asking: our ids (unless its directory
        # is setgid) and its open() mode less the umask; a syscall is spent
        # on ownership or mode only where the entry differs
        self.ids = (os.geteuid(), os.getegid()) if self.fresh else None
        self.umask = _umask()
        self.setgid_dirs = set()
        self.implicit = set()  # directories made for an entry's parent, not by an entry

    def close(self):
        self._forget()
        os.close(self.root)

    def _forget(self) -> None:
        """Drop the cached parent fd: the tree under it may be changing."""
        if self._cached is not None:
            os.close(self._cached[1])
            self._cached = None

    def cached_parent(self, path: str) -> tuple:
        """parent(), with the last parent's fd kept open for the next entry
        (owned by the cache: not for the caller to close)."""
        parent = path.rpartition("/")[0]
        if self._cached is not None and self._cached[0] == parent:
            return self._cached[1], path.rpartition("/")[2]
        fd, base = self.parent(path)
        self._forget()
        self._cached = (parent, fd)
        return fd, base

    def parent(self, path: str) -> tuple:
        """(fd of the parent directory, made if missing, inside dest; base name)."""
        parent, _, base = path.rpartition("/")
        fd = os.dup(self.root)
        walked = ""
        for part in [p for p in parent.split("/") if p]:
            up, walked = walked, f"{walked}/{part}" if walked else part
            try:
                nfd = self.m.openat2(fd, part, os.O_RDONLY | os.O_DIRECTORY, 0,
                                     self.m.RESOLVE_IN_ROOT | self.m.RESOLVE_NO_MAGICLINKS)
            except FileNotFoundError:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    self.implicit.add(walked)
                    if up in self.setgid_dirs:
                        self.setgid_dirs.add(walked)  # it inherited the bit
                except FileExistsError:
                    os.close(fd)
                    raise InvalidArgument(f"layer entry {path!r}: {part!r} is a symlink to "
                                          "nowhere in the layer") from None
                nfd = self.m.openat2(fd, part, os.O_RDONLY | os.O_DIRECTORY, 0,
                                     self.m.RESOLVE_IN_ROOT | self.m.RESOLVE_NO_MAGICLINKS)
            except NotADirectoryError:
                os.close(fd)
                raise InvalidArgument(f"layer entry {path!r}: {part!r} is not a directory") from None
            os.close(fd)
            fd = nfd
        return fd, base

    def remove(self, pfd: int, base: str) -> None:
        self._forget()
        try:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            import shutil
            # relative to the parent's fd, never following a symlink
            shutil.rmtree(base, dir_fd=pfd)
        else:
            os.unlink(base, dir_fd=pfd)

    def entry(self, tar: TarReader, m: Entry) -> None:
        path = clean_name(m.name)
        if not path:
            return  # the root itself
        new = self.fresh and path not in self.seen
        self.seen.add(path)
        pfd, base = self.cached_parent(path)
        if base == OPAQUE:
            os.setxattr(f"/proc/self/fd/{pfd}", "trusted.overlay.opaque", b"y")
            return
        if base.startswith(WHITEOUT):
            name = base[len(WHITEOUT):]
            pfd = os.dup(pfd)  # remove() drops the cache
            try:
                self.remove(pfd, name)
                os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)
            finally:
                os.close(pfd)
            return
        if m.isreg() and new:
            try:
                self.regular(tar, m, pfd, base, path)
                return
            except FileExistsError:
                pass  # a directory made for an earlier entry's path: replaced below
        if m.isdir():
            try:
                if not new:
                    raise FileExistsError
                os.mkdir(base, m.mode & 0o777, dir_fd=pfd)
                self.new_metadata(pfd, base, m, path)
            except FileExistsError:
                st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    self.metadata(pfd, base, m)
                else:
                    pfd = self._replacing(pfd, base)
                    os.mkdir(base, m.mode & 0o777, dir_fd=pfd)
                    self.new_metadata(pfd, base, m, path)
            if m.mode & stat.S_ISGID:
                self.setgid_dirs.add(path)
            return
        if not new or path in self.implicit:
            pfd = self._replacing(pfd, base)
        if m.isreg():
            self.regular(tar, m, pfd, base, path)
        elif m.issym():
            os.symlink(m.linkname, base, dir_fd=pfd)
            self.new_metadata(pfd, base, m, path)
            os.utime(base, (m.mtime, m.mtime), dir_fd=pfd, follow_symlinks=False)
        elif m.islnk():
            target = clean_name(m.linkname)
            tpfd, tbase = self.parent(target)
            try:
                os.link(tbase, base, src_dir_fd=tpfd, dst_dir_fd=pfd, follow_symlinks=False)
            finally:
                os.close(tpfd)
            # a hard link shares the target's metadata
        elif m.isfifo():
            os.mkfifo(base, m.mode & 0o777, dir_fd=pfd)
            self.new_metadata(pfd, base, m, path)
            os.utime(base, (m.mtime, m.mtime), dir_fd=pfd, follow_symlinks=False)
        # device nodes are not created from images

    def _replacing(self, pfd: int, base: str) -> int:
        """Remove what is at base (it is being replaced); the parent fd to
        go on with (the cache is dropped, so a fresh one, kept in it)."""
        keep = os.dup(pfd)
        self.remove(keep, base)
        self._cached = (None, keep)  # owned by the cache again, matched by no path
        return keep

    def regular(self, tar: TarReader, m: Entry, pfd: int, base: str, path: str) -> None:
        mode = m.mode & 0o7777
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode & 0o777,
                     dir_fd=pfd)
        try:
            for chunk in tar.data(m):
                while chunk:
                    chunk = chunk[os.write(fd, chunk):]
            # metadata through the open file: no path lookups
            chowned = self._owner_differs(m, path)
            if chowned:
                os.chown(fd, m.uid, m.gid)
            if chowned or mode & (0o7000 | self.umask):  # chown drops setuid; the umask took bits
                os.chmod(fd, mode)
            os.utime(fd, (m.mtime, m.mtime))
        finally:
            os.close(fd)

    def _owner_differs(self, m: Entry, path: str) -> bool:
        """Does a file we just made at path need a chown to be m's?"""
        return (m.uid, m.gid) != self.ids or path.rpartition("/")[0] in self.setgid_dirs

    def new_metadata(self, pfd: int, base: str, m: Entry, path: str) -> None:
        """Ownership and mode of what was just made with m's permission bits
        (its time is set later, or by the caller)."""
        chowned = self._owner_differs(m, path)
        if chowned:
            os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        mode = m.mode & 0o7777
        if not m.issym() and (chowned or mode & (0o7000 | self.umask)
                              or path.rpartition("/")[0] in self.setgid_dirs):  # a setgid parent's bit is inherited
            os.chmod(base, mode, dir_fd=pfd)

    @staticmethod
    def metadata(pfd: int, base: str, m: Entry) -> None:
        os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        if not m.issym():
            os.chmod(base, m.mode & 0o7777, dir_fd=pfd)
        os.utime(base, (m.mtime, m.mtime), dir_fd=pfd, follow_symlinks=False)


def _umask() -> int:
    """The process umask, read without setting it (other threads may be making files)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def unpack(stream, dest: str) -> None:
    """Extract the uncompressed layer tar read from `stream` into dest."""
    ex = Extractor(dest)
    try:
        tar = TarReader(stream.read)
        dirs = []
        for m in tar:
            ex.entry(tar, m)
            if m.isdir():
                dirs.append(m)
        # directory times last: entries written into them changed them
        for m in reversed(dirs):
            path = clean_name(m.name)
            if path:
                pfd, base = ex.parent(path)
                try:
                    os.utime(base, (m.mtime, m.mtime), dir_fd=pfd, follow_symlinks=False)
                except OSError:
                    pass
                finally:
                    os.close(pfd)
    finally:
        ex.close()
