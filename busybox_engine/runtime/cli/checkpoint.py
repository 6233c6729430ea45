"""checkpoint and restore: CRIU is not part of this runtime; both say so
(after runc's own checks of the container or bundle they name)."""
from busybox_engine.runtime.cli import one_id
from busybox_engine.runtime.errors import RuntimeFailure

FLAGS = {"image-path": str, "work-path": str, "parent-path": str, "leave-running": bool,
         "tcp-established": bool, "ext-unix-sk": bool, "shell-job": bool, "lazy-pages": bool,
         "status-fd": int, "page-server": str, "file-locks": bool, "pre-dump": bool,
         "manage-cgroups-mode": str, "empty-ns": list, "auto-dedup": bool, "bundle": str,
         "detach": bool, "pid-file": str, "no-subreaper": bool, "no-pivot": bool,
         "console-socket": str, "lsm-profile": str, "lsm-mount-context": str}
ALIASES = {"b": "bundle", "d": "detach"}


def run(ctx, opts: dict, args: list, command: str) -> int:
    cid = one_id(args, command)
    if command == "checkpoint":
        from busybox_engine.runtime import state
        state.load(ctx.root, cid)   # "container does not exist" first, as runc
    raise RuntimeFailure(f"{command} is not supported by this runtime: it has no CRIU "
                         "(checkpoint/restore in userspace) support")
