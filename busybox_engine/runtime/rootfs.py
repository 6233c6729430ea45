"""The container's filesystem view, built inside its mount namespace.

Every destination is resolved inside the rootfs with openat2(RESOLVE_IN_ROOT),
so a symlink in the image cannot point a mount outside it; the mount then
targets the resolved file through /proc/self/fd.
"""
import os
import stat

from busybox_engine.core_pyx import mounts as m
from busybox_engine.runtime import mountopts

DEFAULT_DEVICES = [  # path, type, major, minor, mode
    ("/dev/null", "c", 1, 3, 0o666), ("/dev/zero", "c", 1, 5, 0o666),
    ("/dev/full", "c", 1, 7, 0o666), ("/dev/random", "c", 1, 8, 0o666),
    ("/dev/urandom", "c", 1, 9, 0o666), ("/dev/tty", "c", 5, 0, 0o666),
]
DEV_LINKS = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
             ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr")]
RESOLVE = m.RESOLVE_IN_ROOT | m.RESOLVE_NO_MAGICLINKS


class Rootfs:
    def __init__(self, path: str):
        self.path = path
        self.fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def open(self, dest: str, flags: int = os.O_PATH) -> int:
        """Open dest with symlinks resolved as if the rootfs were /."""
        return m.openat2(self.fd, dest.lstrip("/") or ".", flags, 0, RESOLVE)

    def mkdir_all(self, dest: str, mode: int = 0o755, _depth: int = 0) -> int:
        """Make dest (and parents) as directories inside the rootfs; O_PATH fd.
        A dangling symlink on the way gets its target made, inside the rootfs."""
        if _depth > 40:
            raise OSError(40, f"mkdir `{dest}`: too many levels of symbolic links")
        parts = [p for p in dest.split("/") if p and p != "."]
        fd = os.dup(self.fd)
        done = ""
        try:
            for part in parts:
                if part == "..":
                    raise OSError(22, f"mkdir `{dest}`: '..' in a mount destination")
                parent, done = done, done + "/" + part
                try:
                    nfd = self.open(done)
                except FileNotFoundError:
                    try:
                        os.mkdir(part, mode, dir_fd=fd)
                    except FileExistsError:
                        # a dangling symlink (made where it leads, inside the
                        # rootfs), or a directory another container sharing
                        # this rootfs made just now (nothing to do)
                        try:
                            link = os.readlink(part, dir_fd=fd)
                        except OSError:
                            link = None
                        if link is not None:
                            target = link if link.startswith("/") else f"{parent}/{link}"
                            os.close(self.mkdir_all(target, mode, _depth + 1))
                    nfd = self.open(done)
                os.close(fd)
                fd = nfd
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    raise OSError(20, f"mkdir `{dest}`: `{done}` is not a directory")
            return fd
        except BaseException:
            os.close(fd)
            raise

    def make_file(self, dest: str) -> int:
        """Make dest an (empty) file inside the rootfs if missing; O_PATH fd."""
        parent, name = os.path.split(dest.rstrip("/"))
        pfd = self.mkdir_all(parent)
        try:
            try:
                return self.open(dest)
            except FileNotFoundError:
                fd = os.open(name, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                             0o644, dir_fd=pfd)
                os.close(fd)
                return self.open(dest)
        finally:
            os.close(pfd)

    def target(self, dest: str, is_dir: bool = True) -> tuple:
        """(fd, /proc/self/fd/N) of dest made as a directory or file."""
        fd = self.mkdir_all(dest) if is_dir else self.make_file(dest)
        return fd, f"/proc/self/fd/{fd}"

    def remount(self, dest: str, flags: int, data: str | None = None, bind: bool = True) -> None:
        """Remount what is now mounted at dest. The fd the mount was made
        through names the directory under it, so dest is opened afresh."""
        fd = self.open(dest)
        try:
            target = f"/proc/self/fd/{fd}"
            if bind:
                remount_bind(target, flags, dest)
            else:
                m.mount(None, target, None, m.MS_REMOUNT | flags, data)
        finally:
            os.close(fd)

    def propagate(self, dest: str, flags: int) -> None:
        fd = self.open(dest)
        try:
            m.mount(None, f"/proc/self/fd/{fd}", None, flags)
        finally:
            os.close(fd)


def set_root_propagation(option: str | None) -> None:
    """Keep the container's mounts from propagating to the host."""
    flag = mountopts.PROPAGATION.get(option or "rslave", m.MS_SLAVE | m.MS_REC)
    m.mount(None, "/", None, flag)


def parent_mount_private(rootfs_path: str) -> None:
    """pivot_root refuses a new root on a shared mount, which a shared
    rootfsPropagation makes of every mount: the one the rootfs is on goes
    private (alone, in the container's mount namespace), as runc does."""
    from busybox_engine.util import mountinfo
    entry = mountinfo.mount_of(os.path.realpath(rootfs_path), mountinfo.read())
    if entry is not None and entry.shared:
        m.mount(None, entry.point, None, m.MS_PRIVATE)


def prepare(rootfs_path: str, spec: dict, bundle: str, cgroup_paths: dict,
            cgroupns: bool, userns: bool, own_mntns: bool = True) -> None:
    """Bind the rootfs onto itself and make every spec mount in order."""
    linux = spec.get("linux") or {}
    if own_mntns:   # never the propagation of the caller's own mounts
        set_root_propagation(linux.get("rootfsPropagation"))
        if linux.get("rootfsPropagation") in ("shared", "rshared"):
            parent_mount_private(rootfs_path)
    m.mount(rootfs_path, rootfs_path, None, m.MS_BIND | m.MS_REC)
    root = Rootfs(rootfs_path)
    try:
        dev_is_bound = False
        dev_tmpfs = None
        for mnt in spec.get("mounts") or []:
            kind = mount_one(root, mnt, bundle, cgroup_paths, cgroupns)
            if mnt["destination"].rstrip("/") == "/dev":
                dev_is_bound = kind == "bind"
                dev_tmpfs = mnt if kind == "tmpfs" else None
        if not dev_is_bound:
            create_devices(root, DEFAULT_DEVICES + [
                (d["path"], d["type"], d.get("major", 0), d.get("minor", 0), d.get("fileMode", 0o666))
                for d in linux.get("devices") or []], userns, spec)
            dev_links(root, spec)
        if dev_tmpfs is not None:
            flags, _, data = mountopts.parse(dev_tmpfs.get("options") or [])
            if flags & m.MS_RDONLY:   # mount_one left it writable for the devices above
                root.remount("/dev", flags, data or None, bind=False)
    finally:
        root.close()


def mount_one(root: Rootfs, mnt: dict, bundle: str, cgroup_paths: dict, cgroupns: bool) -> str:
    dest = mnt["destination"]
    fstype = mnt.get("type") or ""
    options = mnt.get("options") or []
    flags, propagation, data = mountopts.parse(options)
    source = mnt.get("source") or ""
    if flags & m.MS_BIND or fstype == "bind":
        flags |= m.MS_BIND
        if source and not os.path.isabs(source):
            source = os.path.join(bundle, source)
        try:
            is_dir = stat.S_ISDIR(os.stat(source).st_mode)
        except OSError as e:
            raise OSError(e.errno, f"mount `{source}` to `{dest}`: {e.strerror}") from None
        fd, target = root.target(dest, is_dir)
        try:
            m.mount(source, target, None, flags & (m.MS_BIND | m.MS_REC))
        finally:
            os.close(fd)
        # bind ignores other flags: apply them with a remount
        rest = flags & ~(m.MS_BIND | m.MS_REC | m.MS_REMOUNT)
        if rest:
            root.remount(dest, rest)
        for p in propagation:
            root.propagate(dest, p)
        set_recursive(root, dest, options)
        return "bind"
    if fstype == "cgroup" or fstype == "cgroup2":
        mount_cgroups(root, dest, flags, cgroup_paths, cgroupns)
        return fstype
    if fstype in ("proc", "sysfs"):
        check_plain_dir(root, dest, source or fstype)
    fd, target = root.target(dest, True)
    # a read-only tmpfs is made writable and remounted read-only once
    # ready (/dev: once its devices are made), as runc does
    late_ro = fstype == "tmpfs" and flags & m.MS_RDONLY
    try:
        m.mount(source or fstype, target, fstype, flags & ~m.MS_RDONLY if late_ro else flags, data or None)
    finally:
        os.close(fd)
    if late_ro and dest.rstrip("/") != "/dev":
        root.remount(dest, flags, data or None, bind=False)
    for p in propagation:
        root.propagate(dest, p)
    set_recursive(root, dest, options)
    return fstype


def check_plain_dir(root: "Rootfs", dest: str, what: str) -> None:
    """proc and sysfs go on a directory, never through a symlink (masked
    paths would then miss them), as runc checks: the last component is
    not followed."""
    parent, name = os.path.split(dest.rstrip("/"))
    try:
        pfd = root.open(parent or "/")
    except FileNotFoundError:
        return
    try:
        st = os.lstat(name, dir_fd=pfd) if name else None
    except FileNotFoundError:
        return
    finally:
        os.close(pfd)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise OSError(20, f'error mounting "{what}" to rootfs at "{dest}": '
                          f'filesystem "{what}" must be mounted on ordinary directory')


def set_recursive(root: "Rootfs", dest: str, options: list) -> None:
    """The r* options (rro, rnosuid...): on the mount and all below it."""
    attr_set, attr_clr = mountopts.recursive(options)
    if not attr_set and not attr_clr:
        return
    fd = root.open(dest)
    try:
        m.mount_setattr(fd, attr_set, attr_clr, True, dest)
    finally:
        os.close(fd)


def remount_bind(target: str, flags: int, dest: str) -> None:
    """Remount a bind mount with flags, keeping the flags the kernel locks."""
    locked = 0
    st = os.statvfs(target)
    for bit, flag in ((os.ST_NOSUID, m.MS_NOSUID), (os.ST_NODEV, m.MS_NODEV),
                      (os.ST_NOEXEC, m.MS_NOEXEC), (os.ST_RDONLY, m.MS_RDONLY)):
        if st.f_flag & bit:
            locked |= flag
    m.mount(None, target, None, m.MS_BIND | m.MS_REMOUNT | flags | locked)


def mount_cgroups(root: Rootfs, dest: str, flags: int, cgroup_paths: dict, cgroupns: bool) -> None:
    """/sys/fs/cgroup: the container's own cgroups, read-only by default."""
    from busybox_engine.runtime.cgroups import MOUNT_ROOT
    ro = flags & m.MS_RDONLY
    base = flags & ~(m.MS_RDONLY | m.MS_BIND | m.MS_REC | m.MS_REMOUNT)
    if "" in cgroup_paths:  # v2 host
        fd, target = root.target(dest, True)
        try:
            if cgroupns:
                m.mount("cgroup2", target, "cgroup2", base | ro)
            else:
                m.mount(cgroup_paths[""], target, None, m.MS_BIND)
        finally:
            os.close(fd)
        if not cgroupns:
            root.remount(dest, base | ro)
        return
    fd, target = root.target(dest, True)
    try:
        m.mount("tmpfs", target, "tmpfs", base, "mode=755")
    finally:
        os.close(fd)
    for ctrl, host_path in sorted(cgroup_paths.items()):
        sub = f"{dest.rstrip('/')}/{ctrl}"
        fd, target = root.target(sub, True)
        try:
            m.mount(host_path, target, None, m.MS_BIND)
        finally:
            os.close(fd)
        root.remount(sub, base | ro)
    # co-mounted hierarchies are reachable by each name, as on the host
    for name in ("cpu", "cpuacct"):
        link = os.path.join(MOUNT_ROOT, name)
        if os.path.islink(link):
            pfd = root.mkdir_all(dest)
            try:
                os.symlink(os.readlink(link), name, dir_fd=pfd)
            except FileExistsError:
                pass
            finally:
                os.close(pfd)
    if ro:
        root.remount(dest, base | m.MS_RDONLY, "mode=755", bind=False)


def create_devices(root: Rootfs, devices: list, userns: bool, spec: dict) -> None:
    """Device nodes in the container's /dev: mknod, or a bind mount of the
    host's node in a user namespace (which never chowns the host's node)."""
    uid = gid = 0
    for path, kind, major, minor, mode in devices:
        if kind == "p":
            node_type = stat.S_IFIFO
        elif kind == "b":
            node_type = stat.S_IFBLK
        else:
            node_type = stat.S_IFCHR
        parent, name = os.path.split(path)
        pfd = root.mkdir_all(parent)
        try:
            if userns:
                try:
                    os.unlink(name, dir_fd=pfd)
                except FileNotFoundError:
                    pass
                fd, target = root.target(path, False)
                try:
                    m.mount(path, target, None, m.MS_BIND)
                finally:
                    os.close(fd)
                continue
            try:
                os.unlink(name, dir_fd=pfd)
            except FileNotFoundError:
                pass
            os.mknod(name, node_type | (mode & 0o7777), os.makedev(major, minor), dir_fd=pfd)
            # mknod obeys the umask; the spec's mode is what the node gets
            os.chmod(name, mode & 0o7777, dir_fd=pfd, follow_symlinks=False)
            os.chown(name, uid, gid, dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(pfd)


def dev_links(root: Rootfs, spec: dict) -> None:
    pfd = root.mkdir_all("/dev")
    try:
        links = list(DEV_LINKS)
        if any(mnt.get("type") == "proc" for mnt in spec.get("mounts") or []):
            links.append(("/proc/kcore", "/dev/core"))
        for src, dst in links:
            try:
                os.symlink(src, os.path.basename(dst), dir_fd=pfd)
            except FileExistsError:
                pass
        # /dev/ptmx is the container's devpts one
        if os.path.exists(os.path.join(root.path, "dev/pts/ptmx")):
            try:
                os.unlink("ptmx", dir_fd=pfd)
            except FileNotFoundError:
                pass
            os.symlink("pts/ptmx", "ptmx", dir_fd=pfd)
    finally:
        os.close(pfd)


def pivot(rootfs_path: str, no_pivot: bool, own_mntns: bool = True) -> None:
    """Make rootfs the root: pivot_root, or MS_MOVE + chroot with
    --no-pivot, or (no mount namespace of its own) chroot alone."""
    if not own_mntns:
        os.chdir(rootfs_path)
        os.chroot(".")
        os.chdir("/")
        return
    if no_pivot:
        hide_full_procfs(rootfs_path)
        os.chdir(rootfs_path)
        m.mount(rootfs_path, "/", None, m.MS_MOVE)
        os.chroot(".")
        os.chdir("/")
        return
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new = os.open(rootfs_path, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new)
        m.pivot_root(".", ".")
        # the old root is stacked under the new one: detach it
        os.fchdir(old)
        m.mount(None, ".", None, m.MS_SLAVE | m.MS_REC)
        m.umount2(".", m.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old)
        os.close(new)


def hide_full_procfs(rootfs_path: str) -> None:
    """Before MS_MOVE + chroot, unmount (or cover) every full proc and
    sysfs mount outside the rootfs, as runc does: they stay in the mount
    namespace under a chroot, and the kernel lets a user namespace mount a
    fresh procfs when any full one is visible, masked paths bypassed."""
    from busybox_engine.util import mountinfo
    prefix = rootfs_path.rstrip("/") + "/"
    for e in mountinfo.read():
        if e.root != "/" or e.fstype not in ("proc", "sysfs") or \
                e.point == rootfs_path or e.point.startswith(prefix):
            continue
        try:
            m.mount(None, e.point, None, m.MS_SLAVE | m.MS_REC)   # no umount event to the host
        except FileNotFoundError:
            continue      # under a mount already detached
        try:
            m.umount2(e.point, m.MNT_DETACH)
        except OSError as err:
            if err.errno not in (22, 1):     # EINVAL, EPERM
                raise
            m.mount("tmpfs", e.point, "tmpfs", 0)   # cannot unmount (rootless): cover it


def finish(spec: dict) -> None:
    """After pivot_root: masked and read-only paths, a read-only root."""
    linux = spec.get("linux") or {}
    for path in linux.get("readonlyPaths") or []:
        try:
            m.mount(path, path, None, m.MS_BIND | m.MS_REC)
        except FileNotFoundError:
            continue
        remount_bind(path, m.MS_RDONLY | m.MS_REC, path)
    for path in linux.get("maskedPaths") or []:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            m.mount("tmpfs", path, "tmpfs", m.MS_RDONLY)
        else:
            m.mount("/dev/null", path, None, m.MS_BIND)
    if (spec.get("root") or {}).get("readonly"):
        remount_bind("/", m.MS_RDONLY, "/")
