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


def _frames(out: bytes) -> list:
    frames = []
    while out:
        n = int.from_bytes(out[4:8], "big")
        frames.append((out[0], out[8:8 + n]))
        out = out[8 + n:]
    return frames


def test_decode_gives_back_what_was_written(tmp_path):
    from busybox_engine.core_pyx.jsonlog import decode
    samples = [b"plain\n", b'quote " back \\ slash\n', b"\t\r\x01<&>\n", "é ✓ 𝄞\n".encode(),
               b"\xff\xfe bad utf8\n", "\u2028 sep\n".encode(), b"no newline"]
    log = JSONLog(str(tmp_path / "c.log"))
    for i, s in enumerate(samples):
        log.write("stderr" if i % 2 else "stdout", s)
    log.close()
    raw = (tmp_path / "c.log").read_bytes()
    # what Python's json reads, byte for byte
    want = [(2 if x["stream"] == "stderr" else 1, x["log"].encode()) for x in entries(tmp_path / "c.log")]
    out, used = decode(raw, 0, len(raw), True, True, False, False)
    assert used == len(raw) and _frames(out) == want
    assert want[4][1] == "\ufffd\ufffd bad utf8\n".encode()
    out, _ = decode(raw, 0, len(raw), True, False, False, True)   # stdout only, raw (tty)
    assert out == b"".join(d for s, d in want if s == 1)
    out, _ = decode(raw, 0, len(raw), True, True, True, False)
    first = _frames(out)[0][1]
    assert first.endswith(b" plain\n") and first[:-7] == entries(tmp_path / "c.log")[0]["time"].encode()


def test_decode_stops_at_a_partial_line_and_reads_other_key_orders():
    from busybox_engine.core_pyx.jsonlog import decode
    line = b'{"log":"a\\u00e9\\ud834\\udd1e\\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}\n'
    other = b'{"stream":"stderr","log":"b\\n","time":"2026-01-01T00:00:00Z"}\n'
    junk = b'not json\n'
    buf = line + other + junk + line[:20]
    out, used = decode(buf, 0, len(buf), True, True, False, False)
    assert used == len(buf) - 20
    assert _frames(out) == [(1, "aé𝄞\n".encode()), (2, b"b\n")]


def _go_escape(data: bytes) -> bytes:
    """What Go's encoding/json writes for data as a string, byte by byte
    (the reference the Cython encoder is held to)."""
    out, i = [], 0
    two = {0x22: b'\\"', 0x5c: b"\\\\", 0x0a: b"\\n", 0x0d: b"\\r", 0x09: b"\\t"}
    while i < len(data):
        c = data[i]
        if c in two:
            out.append(two[c])
        elif c < 0x20 or c in b"<>&":
            out.append(b"\\u%04x" % c)
        elif c < 0x80:
            out.append(bytes([c]))
        else:
            for n in (2, 3, 4):
                try:
                    ch = data[i:i + n].decode("utf-8")
                except UnicodeDecodeError:
                    continue
                if len(ch) == 1:
                    out.append(b"\\u%04x" % ord(ch) if ch in "\u2028\u2029" else data[i:i + n])
                    i += n
                    break
            else:
                out.append(b"\\ufffd")
                i += 1
            continue
        i += 1
    return b"".join(out)


def test_escaping_matches_go_byte_for_byte():
    import random
    from busybox_engine.core_pyx import jsonlog
    rnd = random.Random(7)
    cases = [bytes([b]) for b in range(256)] + [bytes(4096), b"<" * 100 + b"ok", "\u2028x\u2029".encode(),
                                               b"\xf4\x90\x80\x80", b"\xe0\x80\xaf", b"ab\xc3"]
    cases += [rnd.randbytes(rnd.randrange(1, 300)) for _ in range(300)]
    cases += [bytes(rnd.choice(b"a\0<\n\"\\\xc3\xa9\xe2\x80\xa8") for _ in range(200)) for _ in range(100)]
    for data in cases:
        line = jsonlog.encode_line(data, b"stdout", b"T")
        assert line == b'{"log":"' + _go_escape(data) + b'","stream":"stdout","time":"T"}\n', data
