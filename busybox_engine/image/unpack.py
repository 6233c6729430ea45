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


MAX_DIR_FDS = 64


class Extractor:
    def __init__(self, dest: str):
        from busybox_engine.core_pyx import mounts
        self.m = mounts
        self.root = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.dirs = {}  # directory path -> fd: an entry's parent is opened once, not per entry
        # what a new file gets without asking: our ids (unless its directory
        # is setgid) and its open() mode less the umask; a syscall is spent
        # on ownership or mode only where the entry differs. Into a directory
        # with something in it already (setgid directories we did not see
        # made), every entry is chowned.
        self.ids = None if os.listdir(dest) else (os.geteuid(), os.getegid())
        self.umask = _umask()
        self.setgid_dirs = set()

    def close(self):
        self._forget()
        os.close(self.root)

    def _forget(self) -> None:
        """Drop the cached directory fds: the tree under them may be changing."""
        for fd in self.dirs.values():
            os.close(fd)
        self.dirs.clear()

    def parent(self, path: str, make: bool = True) -> tuple:
        """(fd of path's parent directory, made if missing; its base name).
        The fd is the cache's, good until the next entry or remove()."""
        parent, _, base = path.rpartition("/")
        if not parent:
            return self.root, base
        fd = self.dirs.get(parent)
        if fd is None:
            try:
                fd = self._open(parent, path)
            except FileNotFoundError:
                if not make:
                    raise
                fd = self._make_dirs(parent, path)
            self.dirs[parent] = fd
        return fd, base

    def trim(self) -> None:
        """Keep the cache to MAX_DIR_FDS (between entries: fds handed out stay good)."""
        if len(self.dirs) >= MAX_DIR_FDS:  # tars go depth first: the oldest are done with
            for old in list(self.dirs)[:MAX_DIR_FDS // 2]:
                os.close(self.dirs.pop(old))

    def _open(self, dirpath: str, entry: str) -> int:
        """The directory at dirpath, symlinks on the way resolved as inside
        dest (an absolute or `..` target cannot leave it)."""
        try:
            return self.m.openat2(self.root, dirpath, os.O_RDONLY | os.O_DIRECTORY, 0,
                                  self.m.RESOLVE_IN_ROOT | self.m.RESOLVE_NO_MAGICLINKS)
        except NotADirectoryError:
            raise InvalidArgument(f"layer entry {entry!r}: {dirpath!r} is not a directory") from None

    def _make_dirs(self, dirpath: str, entry: str) -> int:
        """Make what is missing of dirpath, a directory at a time; its fd."""
        fd, walked = os.dup(self.root), ""
        try:
            for part in dirpath.split("/"):
                up, walked = walked, f"{walked}/{part}" if walked else part
                try:
                    nfd = self._open(walked, entry)
                except FileNotFoundError:
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                    except FileExistsError:
                        raise InvalidArgument(f"layer entry {entry!r}: {part!r} is a symlink to "
                                              "nowhere in the layer") from None
                    if up in self.setgid_dirs:
                        self.setgid_dirs.add(walked)  # it inherited the bit
                    nfd = self._open(walked, entry)
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd

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
        self.trim()
        pfd, base = self.parent(path)
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
        if m.isdir():
            try:
                os.mkdir(base, m.mode & 0o777, dir_fd=pfd)
                self.new_metadata(pfd, base, m, path)
            except FileExistsError:
                st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    self.metadata(pfd, base, m)
                else:
                    pfd = self._replacing(pfd, path)
                    os.mkdir(base, m.mode & 0o777, dir_fd=pfd)
                    self.new_metadata(pfd, base, m, path)
            if m.mode & stat.S_ISGID:
                self.setgid_dirs.add(path)
            return
        if not (m.isreg() or m.issym() or m.islnk() or m.isfifo()):
            return  # device nodes are not created from images

        def make(fd: int) -> None:
            if m.isreg():
                self.regular(tar, m, fd, base, path)  # opens before it reads: a retry has the data
            elif m.issym():
                os.symlink(m.linkname, base, dir_fd=fd)
                self.new_metadata(fd, base, m, path)
                os.utime(base, (m.mtime, m.mtime), dir_fd=fd, follow_symlinks=False)
            elif m.islnk():
                tpfd, tbase = self.parent(clean_name(m.linkname))
                os.link(tbase, base, src_dir_fd=tpfd, dst_dir_fd=fd, follow_symlinks=False)
                # a hard link shares the target's metadata
            else:
                os.mkfifo(base, m.mode & 0o777, dir_fd=fd)
                self.new_metadata(fd, base, m, path)
                os.utime(base, (m.mtime, m.mtime), dir_fd=fd, follow_symlinks=False)
        try:
            make(pfd)
        except FileExistsError:  # an earlier entry's, or a directory made for one: replaced
            make(self._replacing(pfd, path))

    def _replacing(self, pfd: int, path: str) -> int:
        """Remove what is at path (it is being replaced); the parent fd to
        go on with (remove() empties the cache: this one goes back in)."""
        parent, _, base = path.rpartition("/")
        if not parent:
            self.remove(self.root, base)
            return self.root
        keep = os.dup(pfd)
        try:
            self.remove(keep, base)
        except BaseException:
            os.close(keep)
            raise
        self.dirs[parent] = keep
        return keep

    def regular(self, tar: TarReader, m: Entry, pfd: int, base: str, path: str) -> None:
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, m.mode & 0o777,
                     dir_fd=pfd)
        try:
            for chunk in tar.data(m):
                while chunk:
                    chunk = chunk[os.write(fd, chunk):]
            # metadata through the open file: no path lookups
            chown, chmod = self._fixes(m, path)
            if chown:
                os.chown(fd, m.uid, m.gid)
            if chmod:
                os.chmod(fd, m.mode)
            os.utime(fd, (m.mtime, m.mtime))
        finally:
            os.close(fd)

    def _fixes(self, m: Entry, path: str) -> tuple:
        """(chown, chmod): what something just made at path with m's
        permission bits still needs to be as m says. A chown when the owner
        is not ours or the parent is setgid (the group and the setgid bit
        are inherited); then a chmod too (chown drops setuid), or when the
        umask took bits or the mode has setuid/setgid/sticky bits."""
        chown = (m.uid, m.gid) != self.ids or path.rpartition("/")[0] in self.setgid_dirs
        return chown, chown or bool(m.mode & (0o7000 | self.umask))

    def new_metadata(self, pfd: int, base: str, m: Entry, path: str) -> None:
        """Ownership and mode of what was just made with m's permission bits
        (its time is set later, or by the caller)."""
        chown, chmod = self._fixes(m, path)
        if chown:
            os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        if chmod and not m.issym():
            os.chmod(base, m.mode, dir_fd=pfd)

    @staticmethod
    def metadata(pfd: int, base: str, m: Entry) -> None:
        os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        if not m.issym():
            os.chmod(base, m.mode, dir_fd=pfd)
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
                ex.trim()
                try:
                    pfd, base = ex.parent(path, make=False)  # gone (a later whiteout): nothing to date
                    os.utime(base, (m.mtime, m.mtime), dir_fd=pfd, follow_symlinks=False)
                except OSError:
                    pass
    finally:
        ex.close()
