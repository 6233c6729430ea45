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


cdef Py_ssize_t _escape(const unsigned char *src, Py_ssize_t n, char *out) nogil:
    cdef Py_ssize_t i = 0, o = 0, k, m
    cdef unsigned char c
    while i < n:
        c = src[i]
        if c >= 0x20 and c < 0x80 and c != 34 and c != 92 and c != 60 and c != 62 and c != 38:
            out[o] = <char>c
            o += 1
            i += 1
        elif c == 34 or c == 92:
            out[o] = 92
            out[o + 1] = <char>c
            o += 2
            i += 1
        elif c == 10:
            out[o] = 92
            out[o + 1] = 110   # \n
            o += 2
            i += 1
        elif c == 13:
            out[o] = 92
            out[o + 1] = 114   # \r
            o += 2
            i += 1
        elif c == 9:
            out[o] = 92
            out[o + 1] = 116   # \t
            o += 2
            i += 1
        elif c < 0x80:
            # other control characters and < > &
            out[o] = 92
            out[o + 1] = 117   # u
            out[o + 2] = 48
            out[o + 3] = 48
            out[o + 4] = HEX[c >> 4]
            out[o + 5] = HEX[c & 15]
            o += 6
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
                for k in range(m):
                    out[o + k] = <char>src[i + k]
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
