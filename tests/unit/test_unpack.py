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
