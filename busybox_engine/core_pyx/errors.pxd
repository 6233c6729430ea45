# cython: language_level=3
"""The syscall layer's one errno-to-exception mapping, cimported by every
module here: a failed call is OSError(errno, "verb `object`: cause"), as
crun words its errors. Read errno into a C int right after the call (a
Python operation in between may change it), then raise os_error(err, ...)."""
from libc.string cimport strerror


cdef inline object os_error(int err, str what):
    return OSError(err, what + ": " + (<bytes>strerror(err)).decode("utf-8", "replace"))
