"""A user given by name ("nobody", "app:staff", "1000:wheel") resolved as
Docker resolves it: in the container's own /etc/passwd and /etc/group."""
import os



def _read(rootfs: str, name: str) -> list:
    """Lines of rootfs/etc/NAME; a symlink there is not followed out of the
    rootfs (it is treated as missing)."""
    etc = os.path.join(rootfs, "etc")
    try:
        if os.path.islink(etc):
            return []
        fd = os.open(os.path.join(etc, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return []
    with os.fdopen(fd, errors="replace") as f:
        return [line.rstrip("\n").split(":") for line in f.read(1 << 20).splitlines()
                if line and not line.startswith("#")]


def resolve(rootfs: str, user: str) -> dict:
    """The OCI process.user for `user` (name or id, with optional :group);
    LookupError in Docker's words for a name the container does not know."""
    name, _, group = user.partition(":")
    passwd = _read(rootfs, "passwd")
    uid = gid = None
    if name.isdigit():
        uid = int(name)
        entry = next((e for e in passwd if len(e) > 3 and e[2] == name), None)
        gid = int(entry[3]) if entry and entry[3].isdigit() else 0
        login = entry[0] if entry else None
    else:
        entry = next((e for e in passwd if len(e) > 3 and e[0] == name), None)
        if entry is None or not entry[2].isdigit() or not entry[3].isdigit():
            raise LookupError(f"unable to find user {name}: no matching entries in passwd file")
        uid, gid, login = int(entry[2]), int(entry[3]), name
    groups = _read(rootfs, "group")
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            g = next((e for e in groups if len(e) > 2 and e[0] == group), None)
            if g is None or not g[2].isdigit():
                raise LookupError(f"unable to find group {group}: no matching entries in group file")
            gid = int(g[2])
    extra = []
    if login is not None and not group:
        for g in groups:
            if len(g) > 3 and g[2].isdigit() and login in g[3].split(",") and int(g[2]) != gid:
                extra.append(int(g[2]))
    out = {"uid": uid, "gid": gid}
    if extra:
        out["additionalGids"] = extra
    return out
