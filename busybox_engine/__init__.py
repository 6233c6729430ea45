"""busybox-engine: a Docker Engine work-alike in one executable."""

__version__ = "0.1.0"
