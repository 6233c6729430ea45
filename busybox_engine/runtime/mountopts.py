"""runtime-spec mount options -> mount(2) flags, propagation and data."""
from busybox_engine.core_pyx import mounts as m

# option -> (clear?, flag)
FLAGS = {
    "acl": (False, 0), "async": (True, m.MS_SYNCHRONOUS), "atime": (True, m.MS_NOATIME),
    "bind": (False, m.MS_BIND), "defaults": (False, 0), "dev": (True, m.MS_NODEV),
    "diratime": (True, m.MS_NODIRATIME), "dirsync": (False, m.MS_DIRSYNC),
    "exec": (True, m.MS_NOEXEC), "iversion": (False, 1 << 23), "lazytime": (False, m.MS_LAZYTIME),
    "loud": (True, m.MS_SILENT), "mand": (False, m.MS_MANDLOCK), "noatime": (False, m.MS_NOATIME),
    "nodev": (False, m.MS_NODEV), "nodiratime": (False, m.MS_NODIRATIME),
    "noexec": (False, m.MS_NOEXEC), "nolazytime": (True, m.MS_LAZYTIME),
    "nomand": (True, m.MS_MANDLOCK), "norelatime": (True, m.MS_RELATIME),
    "nostrictatime": (True, m.MS_STRICTATIME), "nosuid": (False, m.MS_NOSUID),
    "nosymfollow": (False, m.MS_NOSYMFOLLOW), "rbind": (False, m.MS_BIND | m.MS_REC),
    "relatime": (False, m.MS_RELATIME), "remount": (False, m.MS_REMOUNT),
    "ro": (False, m.MS_RDONLY), "rw": (True, m.MS_RDONLY), "silent": (False, m.MS_SILENT),
    "strictatime": (False, m.MS_STRICTATIME), "suid": (True, m.MS_NOSUID),
    "sync": (False, m.MS_SYNCHRONOUS),
}
PROPAGATION = {
    "private": m.MS_PRIVATE, "rprivate": m.MS_PRIVATE | m.MS_REC,
    "shared": m.MS_SHARED, "rshared": m.MS_SHARED | m.MS_REC,
    "slave": m.MS_SLAVE, "rslave": m.MS_SLAVE | m.MS_REC,
    "unbindable": m.MS_UNBINDABLE, "runbindable": m.MS_UNBINDABLE | m.MS_REC,
}
# runc-only options that are not mount data
IGNORED = {"tmpcopyup"}
# recursive attributes (mount_setattr with AT_RECURSIVE after the mount):
# option -> (clear?, MOUNT_ATTR_*)
RECURSIVE = {
    "rro": (False, m.MOUNT_ATTR_RDONLY), "rrw": (True, m.MOUNT_ATTR_RDONLY),
    "rnosuid": (False, m.MOUNT_ATTR_NOSUID), "rsuid": (True, m.MOUNT_ATTR_NOSUID),
    "rnodev": (False, m.MOUNT_ATTR_NODEV), "rdev": (True, m.MOUNT_ATTR_NODEV),
    "rnoexec": (False, m.MOUNT_ATTR_NOEXEC), "rexec": (True, m.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, m.MOUNT_ATTR_NODIRATIME), "rdiratime": (True, m.MOUNT_ATTR_NODIRATIME),
    "rrelatime": (False, m.MOUNT_ATTR_RELATIME), "rnorelatime": (True, m.MOUNT_ATTR_RELATIME),
    "rnoatime": (False, m.MOUNT_ATTR_NOATIME), "ratime": (True, m.MOUNT_ATTR_NOATIME),
    "rstrictatime": (False, m.MOUNT_ATTR_STRICTATIME), "rnostrictatime": (True, m.MOUNT_ATTR_STRICTATIME),
    "rnosymfollow": (False, m.MOUNT_ATTR_NOSYMFOLLOW), "rsymfollow": (True, m.MOUNT_ATTR_NOSYMFOLLOW),
}


def parse(options: list) -> tuple:
    """(flags, [propagation flags], data string)."""
    flags, propagation, data = 0, [], []
    for opt in options:
        if opt in FLAGS:
            clear, flag = FLAGS[opt]
            flags = flags & ~flag if clear else flags | flag
        elif opt in PROPAGATION:
            propagation.append(PROPAGATION[opt])
        elif opt not in IGNORED and opt not in RECURSIVE:
            data.append(opt)
    return flags, propagation, ",".join(data)


def recursive(options: list) -> tuple:
    """(attr_set, attr_clr) of the r* options, as runc computes them: an
    access-time setting also clears the whole atime field."""
    attr_set = attr_clr = 0
    for opt in options:
        if opt in RECURSIVE:
            clear, flag = RECURSIVE[opt]
            if clear:
                attr_clr |= flag
            else:
                attr_set |= flag
                if flag & m.MOUNT_ATTR__ATIME == flag:
                    attr_clr |= m.MOUNT_ATTR__ATIME
    return attr_set, attr_clr
