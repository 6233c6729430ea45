"""runc features: what this runtime supports, as JSON."""
import json
import sys

from busybox_engine.runtime import mountopts
from busybox_engine.runtime.caps import NAMES
from busybox_engine.runtime.seccomp import OPS
from busybox_engine.runtime.spec import NAMESPACE_TYPES

FLAGS = {}


def run(ctx, opts: dict, args: list, command: str) -> int:
    features = {
        "ociVersionMin": "1.0.0", "ociVersionMax": "1.1.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
                  "poststart", "poststop"],
        "mountOptions": sorted(list(mountopts.FLAGS) + list(mountopts.PROPAGATION)),
        "linux": {
            "namespaces": list(NAMESPACE_TYPES),
            "capabilities": NAMES,
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": True, "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                                                     "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                                                     "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                        "operators": sorted(OPS)},
            "apparmor": {"enabled": False}, "selinux": {"enabled": False},
        },
    }
    sys.stdout.write(json.dumps(features, indent=4) + "\n")
    return 0
