# cython: language_level=3, boundscheck=False, wraparound=False
"""One json-file log line from raw output bytes, as Docker's jsonlog writes
them: {"log":"...","stream":"stdout","time":"..."}\\n with '"', '\\\\' and
control characters escaped, '<', '>', '&' as \\u003c \\u003e \\u0026, valid
UTF-8 kept as it is, and each byte of invalid UTF-8 as \\ufffd.

In C, without the GIL: the shim writes every byte a container prints
through here, and Python's json module took four times as long."""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

cdef const char *HEX = b"0123456789abcdef"


cdef inline Py_ssize_t _utf8_len(const unsigned char *p, Py_ssize_t left) nogil:
    """Length of the valid UTF-8 sequence at p, 0 if it is not one."""
    cdef unsigned char c = p[0]
    cdef Py_ssize_t n, i
    cdef unsigned int cp
    if c < 0xC2:
        return 0
    elif c < 0xE0:
        n = 2
        cp = c & 0x1F
    elif c < 0xF0:
        n = 3
        cp = c & 0x0F
    elif c < 0xF5:
        n = 4
        cp = c & 0x07
    else:
        return 0
    if left < n:
        return 0
    for i in range(1, n):
        if (p[i] & 0xC0) != 0x80:
            return 0
        cp = (cp << 6) | (p[i] & 0x3F)
    if (n == 3 and (cp < 0x800 or (0xD800 <= cp <= 0xDFFF))) or (n == 4 and (cp < 0x10000 or cp > 0x10FFFF)):
        return 0
    return n


# what each byte becomes: 0 itself, 1 a two-character escape (ESC2), 2
# \u00XX, 3 the start of a UTF-8 sequence (or invalid)
cdef unsigned char KIND[256]
cdef char ESC2[256]


cdef void _tables():
    cdef int c
    for c in range(256):
        KIND[c] = 3 if c >= 0x80 else (2 if c < 0x20 else 0)
        ESC2[c] = 0
    for c in (60, 62, 38):      # < > & as Go's encoding/json writes them
        KIND[c] = 2
    for c, e in ((34, 34), (92, 92), (10, 110), (13, 114), (9, 116)):
        KIND[c] = 1
        ESC2[c] = e


_tables()


cdef Py_ssize_t _escape(const unsigned char *src, Py_ssize_t n, char *out) nogil:
    # table-driven: a byte per lookup, runs of plain bytes copied at once
    cdef Py_ssize_t i = 0, o = 0, j, m
    cdef unsigned char c, k
    while i < n:
        j = i
        while j < n and KIND[src[j]] == 0:
            j += 1
        if j > i:
            memcpy(out + o, src + i, j - i)
            o += j - i
            i = j
            if i >= n:
                break
        c = src[i]
        k = KIND[c]
        if k == 2:
            # a run of them (a stream of NULs) in one tight loop
            while True:
                out[o] = 92
                out[o + 1] = 117   # u
                out[o + 2] = 48
                out[o + 3] = 48
                out[o + 4] = HEX[c >> 4]
                out[o + 5] = HEX[c & 15]
                o += 6
                i += 1
                if i >= n:
                    break
                c = src[i]
                if KIND[c] != 2:
                    break
        elif k == 1:
            out[o] = 92
            out[o + 1] = ESC2[c]
            o += 2
            i += 1
        else:
            m = _utf8_len(src + i, n - i)
            if m == 0:
                memcpy(out + o, b"\\ufffd", 6)
                o += 6
                i += 1
            elif m == 3 and src[i] == 0xE2 and src[i + 1] == 0x80 and (src[i + 2] == 0xA8 or src[i + 2] == 0xA9):
                memcpy(out + o, b"\\u202", 5)
                out[o + 5] = <char>(56 if src[i + 2] == 0xA8 else 57)   # 8 or 9
                o += 6
                i += 3
            else:
                memcpy(out + o, src + i, m)
                o += m
                i += m
    return o


cdef char *_buf = NULL
cdef Py_ssize_t _cap = 0


def encode_line(const unsigned char[:] data, bytes stream, bytes when) -> bytes:
    """The log line (newline included) for data printed on stream at when."""
    global _buf, _cap
    cdef Py_ssize_t n = data.shape[0]
    cdef Py_ssize_t cap = 16 + 6 * n + 12 + len(stream) + 10 + len(when) + 4
    cdef char *buf
    cdef Py_ssize_t o
    cdef const unsigned char *src = &data[0] if n > 0 else NULL
    if cap > _cap:
        # one buffer, grown as needed and kept: a fresh one each line
        # costs its page faults every time
        free(_buf)
        _buf = <char *>malloc(cap)
        if _buf == NULL:
            _cap = 0
            raise MemoryError()
        _cap = cap
    buf = _buf
    if True:
        memcpy(buf, b'{"log":"', 8)
        o = 8
        if n > 0:
            with nogil:
                o += _escape(src, n, buf + o)
        memcpy(buf + o, b'","stream":"', 12)
        o += 12
        memcpy(buf + o, PyBytes_AS_STRING(stream), len(stream))
        o += len(stream)
        memcpy(buf + o, b'","time":"', 10)
        o += 10
        memcpy(buf + o, PyBytes_AS_STRING(when), len(when))
        o += len(when)
        memcpy(buf + o, b'"}\n', 3)
        o += 3
        return PyBytes_FromStringAndSize(buf, o)


# --- reading: json-file lines to what `docker logs` sends --------------------------

from libc.string cimport memchr, memcmp


cdef inline int _hex4(const unsigned char *p) nogil:
    cdef int v = 0, i, d
    cdef unsigned char c
    for i in range(4):
        c = p[i]
        if 48 <= c <= 57:
            d = c - 48
        elif 97 <= c <= 102:
            d = c - 87
        elif 65 <= c <= 70:
            d = c - 55
        else:
            return -1
        v = (v << 4) | d
    return v


cdef inline Py_ssize_t _put_utf8(char *out, unsigned int cp) nogil:
    if cp < 0x80:
        out[0] = <char>cp
        return 1
    if cp < 0x800:
        out[0] = <char>(0xC0 | (cp >> 6))
        out[1] = <char>(0x80 | (cp & 0x3F))
        return 2
    if cp < 0x10000:
        out[0] = <char>(0xE0 | (cp >> 12))
        out[1] = <char>(0x80 | ((cp >> 6) & 0x3F))
        out[2] = <char>(0x80 | (cp & 0x3F))
        return 3
    out[0] = <char>(0xF0 | (cp >> 18))
    out[1] = <char>(0x80 | ((cp >> 12) & 0x3F))
    out[2] = <char>(0x80 | ((cp >> 6) & 0x3F))
    out[3] = <char>(0x80 | (cp & 0x3F))
    return 4


cdef Py_ssize_t _unescape(const unsigned char *p, Py_ssize_t n, Py_ssize_t *pos, char *out) nogil:
    """The JSON string starting at p[pos] (after its quote) into out; pos
    moves past the closing quote. Its length, or -1 if it is not one."""
    cdef Py_ssize_t i = pos[0], o = 0
    cdef unsigned char c, e
    cdef int cp, lo
    while i < n:
        c = p[i]
        if c == 34:
            pos[0] = i + 1
            return o
        if c != 92:
            out[o] = <char>c
            o += 1
            i += 1
            continue
        if i + 1 >= n:
            return -1
        e = p[i + 1]
        if e == 117:   # \uXXXX, a surrogate pair joined
            if i + 6 > n:
                return -1
            cp = _hex4(p + i + 2)
            if cp < 0:
                return -1
            i += 6
            if 0xD800 <= cp < 0xDC00:
                lo = _hex4(p + i + 2) if (i + 6 <= n and p[i] == 92 and p[i + 1] == 117) else -1
                if 0xDC00 <= lo < 0xE000:
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    i += 6
                else:
                    cp = 0xFFFD
            elif 0xDC00 <= cp < 0xE000:
                cp = 0xFFFD
            o += _put_utf8(out + o, cp)
            continue
        if e == 110:
            out[o] = 10
        elif e == 114:
            out[o] = 13
        elif e == 116:
            out[o] = 9
        elif e == 34 or e == 92 or e == 47:
            out[o] = <char>e
        elif e == 98:
            out[o] = 8
        elif e == 102:
            out[o] = 12
        else:
            return -1
        o += 1
        i += 2
    return -1


cdef inline Py_ssize_t _quoted(const unsigned char *p, Py_ssize_t n, Py_ssize_t *pos) nogil:
    """A plain string (no escapes: stream names, times) at p[pos], after
    its quote: its length, pos past the closing quote; -1 otherwise."""
    cdef Py_ssize_t i = pos[0]
    while i < n and p[i] != 34:
        if p[i] == 92:
            return -1
        i += 1
    if i >= n:
        return -1
    cdef Py_ssize_t length = i - pos[0]
    pos[0] = i + 1
    return length


cdef Py_ssize_t _emit(char *out, int stream, const char *ts, Py_ssize_t tslen, bint timestamps,
                      bint tty, const char *data, Py_ssize_t n) nogil:
    cdef Py_ssize_t o = 0, size = n + (tslen + 1 if timestamps else 0)
    if not tty:
        out[0] = <char>stream
        out[1] = 0
        out[2] = 0
        out[3] = 0
        out[4] = <char>((size >> 24) & 0xFF)
        out[5] = <char>((size >> 16) & 0xFF)
        out[6] = <char>((size >> 8) & 0xFF)
        out[7] = <char>(size & 0xFF)
        o = 8
    if timestamps:
        memcpy(out + o, ts, tslen)
        out[o + tslen] = 32
        o += tslen + 1
    memcpy(out + o, data, n)
    return o + n


def decode(bytes buf, Py_ssize_t start, Py_ssize_t end, bint want_stdout, bint want_stderr,
           bint timestamps, bint tty):
    """The complete json-file lines of buf[start:end] as `docker logs` sends
    them: each line's text, after its time with timestamps, in an 8-byte
    stdcopy frame (1 stdout, 2 stderr) without a tty. (output, offset of
    the first line not read). A line not in the compact form we and Docker
    write goes through Python's json; one that is not JSON is skipped."""
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(buf)
    cdef Py_ssize_t i = start, nl, pos, n, tslen, stream_len, o = 0, linelen, stream_start, ts_start
    cdef const unsigned char *q
    cdef char *out
    cdef char *scratch
    cdef int stream
    cdef bint ok
    if end > len(buf) or start < 0 or start > end:
        raise ValueError("decode: bad range")
    out = <char *>malloc(2 * (end - start) + 64)
    scratch = <char *>malloc(end - start + 1)
    if out == NULL or scratch == NULL:
        free(out)
        free(scratch)
        raise MemoryError()
    try:
        while i < end:
            q = <const unsigned char *>memchr(p + i, 10, end - i)
            if q == NULL:
                break
            nl = q - p
            linelen = nl - i
            ok = False
            if linelen > 8 and memcmp(p + i, b'{"log":"', 8) == 0:
                pos = i + 8
                n = _unescape(p, nl, &pos, scratch)
                if n >= 0 and pos + 11 <= nl and memcmp(p + pos, b',"stream":"', 11) == 0:
                    pos += 11
                    stream_start = pos
                    stream_len = _quoted(p, nl, &pos)
                    if stream_len == 6 and pos + 9 <= nl and memcmp(p + pos, b',"time":"', 9) == 0:
                        stream = 1 if memcmp(p + stream_start, b"stdout", 6) == 0 else (
                            2 if memcmp(p + stream_start, b"stderr", 6) == 0 else 0)
                        pos += 9
                        ts_start = pos
                        tslen = _quoted(p, nl, &pos)
                        if stream and tslen >= 0 and pos < nl and p[pos] == 125:
                            ok = True
                            if (stream == 1 and want_stdout) or (stream == 2 and want_stderr):
                                o += _emit(out + o, stream, <const char *>(p + ts_start), tslen,
                                           timestamps, tty, scratch, n)
            if not ok:
                o += _slow_line(buf[i:nl], out + o, want_stdout, want_stderr, timestamps, tty)
            i = nl + 1
        return PyBytes_FromStringAndSize(out, o), i
    finally:
        free(out)
        free(scratch)


cdef Py_ssize_t _slow_line(bytes line, char *out, bint want_stdout, bint want_stderr, bint timestamps,
                           bint tty) except -1:
    import json
    try:
        rec = json.loads(line)
        data = rec["log"].encode("utf-8", "surrogateescape")
        name = rec.get("stream")
        ts = str(rec.get("time", "")).encode()
    except (ValueError, KeyError, TypeError, AttributeError):
        return 0
    stream = 1 if name == "stdout" else 2 if name == "stderr" else 0
    if not ((stream == 1 and want_stdout) or (stream == 2 and want_stderr)):
        return 0
    # the output was sized for the line: its text and time fit in it
    if len(data) + len(ts) + 9 > 2 * (len(line) + 1):
        return 0
    return _emit(out, stream, ts, len(ts), timestamps, tty, data, len(data))


# --- writing many lines at once ----------------------------------------------------

cdef inline Py_ssize_t _line_end(const unsigned char *p, Py_ssize_t i, Py_ssize_t n,
                                 Py_ssize_t max_line) nogil:
    """The end (exclusive) of the line starting at i: past its newline, or
    max_line bytes on; -1 if what is left is a partial line."""
    cdef Py_ssize_t limit = n if n - i < max_line else i + max_line
    cdef const unsigned char *q = <const unsigned char *>memchr(p + i, 10, limit - i)
    if q != NULL:
        return (q - p) + 1
    if n - i >= max_line:
        return i + max_line
    return -1


def encode_chunk(const unsigned char[:] data, bytes stream, bytes when, Py_ssize_t max_line):
    """The log lines of data's complete lines (newline-ended, or cut at
    max_line bytes), all at when, in one call: (encoded, bytes of data used;
    the rest is a partial line)."""
    cdef Py_ssize_t n = data.shape[0], i = 0, e, count = 0, o = 0, used
    cdef Py_ssize_t slen = len(stream), wlen = len(when)
    cdef const unsigned char *p = &data[0] if n > 0 else NULL
    cdef char *out
    cdef const char *sp = PyBytes_AS_STRING(stream)
    cdef const char *wp = PyBytes_AS_STRING(when)
    if max_line <= 0:
        raise ValueError("max_line must be positive")
    if n == 0:
        return b"", 0
    with nogil:
        while i < n:
            e = _line_end(p, i, n, max_line)
            if e < 0:
                break
            count += 1
            i = e
    used = i
    if count == 0:
        return b"", 0
    out = <char *>malloc(6 * used + count * (8 + 12 + slen + 10 + wlen + 3))
    if out == NULL:
        raise MemoryError()
    try:
        with nogil:
            i = 0
            while i < used:
                e = _line_end(p, i, used, max_line)
                if e < 0:
                    e = used
                memcpy(out + o, b'{"log":"', 8)
                o += 8
                o += _escape(p + i, e - i, out + o)
                memcpy(out + o, b'","stream":"', 12)
                o += 12
                memcpy(out + o, sp, slen)
                o += slen
                memcpy(out + o, b'","time":"', 10)
                o += 10
                memcpy(out + o, wp, wlen)
                o += wlen
                memcpy(out + o, b'"}\n', 3)
                o += 3
                i = e
        return PyBytes_FromStringAndSize(out, o), used
    finally:
        free(out)
