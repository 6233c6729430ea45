"""Cython modules: the syscall layer (prctl, and later namespaces, mounts...).

Built in place by build.py; from a bare source tree they may be missing, so
callers import them where they are used.
"""
