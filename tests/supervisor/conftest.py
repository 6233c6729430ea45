from tests.runtime.conftest import reap, rootfs_template, subreaper  # noqa: F401 - shared fixtures
