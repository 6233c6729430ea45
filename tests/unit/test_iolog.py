"""The json-file log writer: lines, partial lines, long lines, rotation."""
import json

from busybox_engine.shim.iolog import MAX_LINE, JSONLog


def entries(path):
    return [json.loads(line) for line in open(path)]


def test_lines_streams_and_partials(tmp_path):
    log = JSONLog(str(tmp_path / "c.log"))
    log.write("stdout", b"hello\nwor")
    log.write("stderr", b"oops\n")
    log.write("stdout", b"ld\nno newline")
    log.close()
    e = entries(tmp_path / "c.log")
    assert [(x["stream"], x["log"]) for x in e] == [
        ("stdout", "hello\n"), ("stderr", "oops\n"), ("stdout", "world\n"), ("stdout", "no newline")]
    assert e[0]["time"].endswith("Z") and "T" in e[0]["time"]


def test_long_lines_are_cut(tmp_path):
    log = JSONLog(str(tmp_path / "c.log"))
    log.write("stdout", b"x" * (MAX_LINE * 2 + 10) + b"\n")
    log.close()
    assert [len(x["log"]) for x in entries(tmp_path / "c.log")] == [MAX_LINE, MAX_LINE, 11]


def test_rotation_keeps_max_files(tmp_path):
    path = tmp_path / "c.log"
    log = JSONLog(str(path), max_size=1000, max_files=3)
    for i in range(100):
        log.write("stdout", f"line {i:03d}\n".encode())
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["c.log", "c.log.1", "c.log.2"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())
    # newest in c.log, in order across the files
    logs = [x["log"] for f in ("c.log.2", "c.log.1", "c.log") for x in entries(tmp_path / f)]
    assert logs[-1] == "line 099\n"
    assert logs == sorted(logs)


def test_escaping_as_docker_writes_it(tmp_path):
    """Compact lines; '<', '>', '&' and control characters escaped, UTF-8
    kept, each byte of invalid UTF-8 as U+FFFD (Docker's jsonlog)."""
    log = JSONLog(str(tmp_path / "c.log"))
    log.write("stdout", 'a<b>&"\\\0 é😀 '.encode() + b"\xff\xed\xa0\x80\n")
    log.close()
    raw = open(tmp_path / "c.log", "rb").read()
    assert raw.startswith(b'{"log":"a\\u003cb\\u003e\\u0026\\"\\\\\\u0000 \xc3\xa9\xf0\x9f\x98\x80 '
                          b'\\ufffd\\ufffd\\ufffd\\ufffd\\n","stream":"stdout","time":"')
    assert entries(tmp_path / "c.log")[0]["log"] == 'a<b>&"\\\0 é😀 \ufffd\ufffd\ufffd\ufffd\n'
