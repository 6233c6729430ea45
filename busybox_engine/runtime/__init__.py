"""The OCI runtime: runtime-spec config.json -> a running container.

Used by the runc personality. The parent side (create/start/kill/delete)
lives in container.py; what runs inside the new namespaces before the
user's program is in init.py; syscalls come from busybox_engine.core_pyx.
"""
