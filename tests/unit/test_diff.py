"""image.diff: an overlay upper directory read as Docker's changes and layer tar."""
import io
import os
import stat
import tarfile

from busybox_engine.image import diff


def _tree(tmp_path):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    for d in ("bin", "etc", "opq/old", "keep"):
        (lower / d).mkdir(parents=True)
    (lower / "bin/ls").write_text("ls")
    (lower / "etc/passwd").write_text("root")
    (upper / "bin").mkdir(parents=True)
    os.mknod(upper / "bin/ls", stat.S_IFCHR | 0o600, 0)          # a deletion
    (upper / "etc").mkdir()
    (upper / "etc/hosts").write_text("")                          # a mount point, not a change
    st = os.stat(lower / "etc")
    os.utime(upper / "etc", ns=(st.st_atime_ns, st.st_mtime_ns))
    (upper / "opq").mkdir()
    os.setxattr(upper / "opq", "trusted.overlay.opaque", b"y")
    (upper / "opq/new").write_text("n")
    (upper / "proc").mkdir()
    (upper / "added").write_text("a")
    os.link(upper / "added", upper / "hard")
    return str(upper), [str(lower)]


def test_changes_leave_out_mount_points(tmp_path):
    upper, lowers = _tree(tmp_path)
    assert [(c["Kind"], c["Path"]) for c in diff.changes(upper, lowers)] == [
        (1, "/added"), (0, "/bin"), (2, "/bin/ls"), (1, "/hard"), (0, "/opq"), (1, "/opq/new")]


def test_tar_has_whiteouts_opaque_markers_and_hardlinks(tmp_path):
    upper, lowers = _tree(tmp_path)
    buf = io.BytesIO()
    diff.write_tar(upper, lowers, buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as t:
        members = {m.name: m for m in t.getmembers()}
        assert sorted(members) == ["added", "bin", "bin/.wh.ls", "hard", "opq", "opq/.wh..wh..opq", "opq/new"]
        assert members["hard"].islnk() and members["hard"].linkname == "added"
        assert t.extractfile("opq/new").read() == b"n"
