"""Layer extraction corner cases: replaced entries, the parent-fd cache,
whiteouts, links."""
import io
import os
import stat
import tarfile

import pytest

from busybox_engine.image.unpack import unpack
from busybox_engine.rpc.errors import InvalidArgument


def layer(*entries) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid = 1700000000, 1000, 1000
            if kind == "file":
                info.size, info.mode = len(payload), 0o640
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type, info.mode = {"dir": (tarfile.DIRTYPE, 0o750), "symlink": (tarfile.SYMTYPE, 0o777),
                                    "hardlink": (tarfile.LNKTYPE, 0o644)}[kind]
            info.linkname = payload or ""
            tar.addfile(info)
    buf.seek(0)
    return buf


def test_files_metadata_and_later_entries_replacing_earlier_ones(tmp_path):
    dest = tmp_path / "fs"
    dest.mkdir()
    unpack(layer(("d/a", "file", b"one"), ("d/b", "file", b"b"), ("d/a", "file", b"two"),
                 ("x/y", "file", b"y"), ("x", "file", b"x is a file now"),
                 ("d/link", "hardlink", "d/b"), ("d", "dir", None)), str(dest))
    assert (dest / "d" / "a").read_bytes() == b"two"
    assert (dest / "x").read_bytes() == b"x is a file now"
    st = os.stat(dest / "d" / "a")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)) == (0o640, 1000, 1000, 1700000000)
    assert os.stat(dest / "d" / "link").st_ino == os.stat(dest / "d" / "b").st_ino
    assert stat.S_IMODE(os.stat(dest / "d").st_mode) == 0o750


def test_a_directory_replaced_by_a_symlink_is_not_written_through(tmp_path):
    dest, outside = tmp_path / "fs", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    with pytest.raises(InvalidArgument):
        unpack(layer(("d/a", "file", b"a"), ("d", "symlink", str(outside)), ("d/b", "file", b"b")), str(dest))
    assert os.listdir(outside) == []


def test_whiteouts_in_a_cached_directory(tmp_path):
    dest = tmp_path / "fs"
    dest.mkdir()
    unpack(layer(("d/a", "file", b"a"), ("d/.wh.gone", "file", b""), ("d/c", "file", b"c"),
                 ("e/.wh..wh..opq", "file", b"")), str(dest))
    st = os.stat(dest / "d" / "gone", follow_symlinks=False)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert (dest / "d" / "c").read_bytes() == b"c"
    assert os.getxattr(dest / "e", "trusted.overlay.opaque") == b"y"


def test_ownership_and_modes_where_a_new_file_would_differ(tmp_path):
    """The unpacker spares chown/chmod where a new file already is as the
    entry says; these are the cases where it is not."""
    def entry(name, kind, mode, uid=0, gid=0, data=b""):
        info = tarfile.TarInfo(name)
        info.mode, info.uid, info.gid, info.mtime = mode, uid, gid, 1600000000
        info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                     "fifo": tarfile.FIFOTYPE}[kind]
        if kind == "symlink":
            info.linkname = "target"
        info.size = len(data)
        return info, io.BytesIO(data) if data else None
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in [entry("bin/su", "file", 0o4755, data=b"su"),
                           entry("open", "file", 0o666, data=b"w"),  # bits the umask would take
                           entry("plain", "file", 0o644, data=b"p"),
                           entry("mail", "dir", 0o2775, gid=8),  # setgid: new files inherit its group
                           entry("mail/root", "file", 0o600, data=b"m"),
                           entry("mail/sub/deep", "file", 0o644, data=b"d"),  # sub made implicitly, setgid too
                           entry("mail/box", "dir", 0o755),
                           entry("tmp", "dir", 0o1777),
                           entry("home/u/f", "file", 0o640, uid=1000, gid=1000, data=b"u"),
                           entry("home/u/l", "symlink", 0o777, uid=1000, gid=1000),
                           entry("pipe", "fifo", 0o620)]:
            tar.addfile(info, data)
    buf.seek(0)
    dest = tmp_path / "fs"
    dest.mkdir()
    old = os.umask(0o027)
    try:
        unpack(buf, str(dest))
    finally:
        os.umask(old)

    def meta(p):
        st = os.stat(dest / p, follow_symlinks=False)
        return oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid
    assert meta("bin/su") == (oct(0o4755), 0, 0)
    assert meta("open") == (oct(0o666), 0, 0)
    assert meta("plain") == (oct(0o644), 0, 0)
    assert meta("mail") == (oct(0o2775), 0, 8)
    assert meta("mail/root") == (oct(0o600), 0, 0)
    assert meta("mail/sub/deep") == (oct(0o644), 0, 0)
    assert meta("mail/box") == (oct(0o755), 0, 0)  # not the inherited setgid bit
    assert meta("tmp") == (oct(0o1777), 0, 0)
    assert meta("home/u/f") == (oct(0o640), 1000, 1000)
    assert meta("home/u/l")[1:] == (1000, 1000)
    assert meta("pipe") == (oct(0o620), 0, 0)
    assert int(os.stat(dest / "pipe").st_mtime) == 1600000000
    assert int(os.lstat(dest / "home/u/l").st_mtime) == 1600000000


def test_directory_symlinks_resolve_inside_the_layer_root(tmp_path):
    """An absolute or `..` symlink used as a directory resolves as it would
    in the container (Debian's var/run -> /run), never outside dest."""
    dest = tmp_path / "fs"
    dest.mkdir()
    unpack(layer(("run", "dir", None), ("var/run", "symlink", "/run"), ("var/run/pid", "file", b"1"),
                 ("up", "symlink", "../../.."), ("up/etc/owned", "file", b"x"),
                 ("deep/a/b", "dir", None), ("deep/link", "symlink", "a/b"), ("deep/link/c", "file", b"c")),
           str(dest))
    assert (dest / "run" / "pid").read_bytes() == b"1"
    assert (dest / "etc" / "owned").read_bytes() == b"x"  # `..` stops at the layer's root
    assert not (tmp_path / "etc").exists()
    assert (dest / "deep" / "a" / "b" / "c").read_bytes() == b"c"


def test_corrupted_layers_fail_cleanly_inside_dest(tmp_path):
    """Random byte changes and cuts in a layer: unpack either succeeds or
    says the layer is broken (InvalidArgument), and never writes outside."""
    import random
    import shutil
    raw = layer(("etc/passwd", "file", b"root:x:0:0\n"), ("a/b/c", "file", b"x" * 3000),
                ("l", "symlink", "/etc"), ("l/via-link", "file", b"v"), ("h", "hardlink", "etc/passwd"),
                ("up", "symlink", "../.."), ("d", "dir", None)).getvalue()
    rnd = random.Random(5)
    outcomes = set()
    for i in range(400):
        b = bytearray(raw)
        for _ in range(rnd.randint(1, 6)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        if rnd.random() < 0.2:
            del b[rnd.randrange(len(b)):]
        dest = tmp_path / "fs" / str(i)
        dest.mkdir(parents=True)
        try:
            unpack(io.BytesIO(bytes(b)), str(dest))
            outcomes.add("ok")
        except InvalidArgument:
            outcomes.add("refused")
        shutil.rmtree(dest)
    assert outcomes == {"ok", "refused"}
    assert sorted(os.listdir(tmp_path)) == ["fs"] and os.listdir(tmp_path / "fs") == []


def test_a_later_entry_reaching_an_earlier_one_through_a_symlink_replaces_it(tmp_path):
    dest = tmp_path / "fs"
    dest.mkdir()
    unpack(layer(("etc/x", "file", b"first"), ("etc/p", "file", b"p"), ("l", "symlink", "etc"),
                 ("l/x", "file", b"second"), ("l/p", "symlink", "x")), str(dest))
    assert (dest / "etc" / "x").read_bytes() == b"second"
    assert os.readlink(dest / "etc" / "p") == "x"
