from tests.engine_api.conftest import busybox_archive, dockerd  # noqa: F401 - shared fixtures
from tests.runtime.conftest import mounts_under, rootfs_template  # noqa: F401 - shared fixtures
