"""/proc/self/mountinfo, parsed: one Entry per mount, fields unescaped."""


class Entry:
    __slots__ = ("root", "point", "fstype", "superopts", "tags")

    def __init__(self, root, point, fstype, superopts, tags=()):
        self.root, self.point, self.fstype, self.superopts = root, point, fstype, superopts
        self.tags = tags   # the optional fields: shared:N, master:N, propagate_from:N, unbindable

    @property
    def shared(self) -> bool:
        return any(t.startswith("shared:") for t in self.tags)


def parse(lines):
    """Entries of mountinfo lines, in their order (a later mount on the same
    point hides an earlier one)."""
    for line in lines:
        fields = line.split()
        try:
            sep = fields.index("-", 6)
        except ValueError:
            continue
        yield Entry(unescape(fields[3]), unescape(fields[4]), fields[sep + 1],
                    fields[sep + 3] if len(fields) > sep + 3 else "", tuple(fields[6:sep]))


def read(path: str = "/proc/self/mountinfo") -> list:
    with open(path) as f:
        return list(parse(f))


def unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_of(path: str, entries: list) -> "Entry | None":
    """The mount path is on (path absolute and resolved): the one on the
    longest point that holds it, the top one of those stacked there."""
    best = None
    for e in entries:
        if path == e.point or path.startswith(e.point.rstrip("/") + "/"):
            if best is None or len(e.point) >= len(best.point):
                best = e
    return best
