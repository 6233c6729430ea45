"""runc create [-b BUNDLE] [--pid-file F] [--console-socket S] [--no-pivot] ID"""
from busybox_engine.runtime import container
from busybox_engine.runtime.cli import one_id

FLAGS = {"bundle": str, "pid-file": str, "console-socket": str, "no-pivot": bool,
         "no-new-keyring": bool, "preserve-fds": int}
ALIASES = {"b": "bundle"}


def options(opts: dict, foreground: bool = False, warn=None, debug=None) -> container.CreateOptions:
    return container.CreateOptions(bundle=opts.get("bundle") or ".",
                                   pid_file=opts.get("pid-file"),
                                   console_socket=opts.get("console-socket"),
                                   no_pivot=opts.get("no-pivot", False),
                                   preserve_fds=opts.get("preserve-fds", 0),
                                   foreground=foreground, warn=warn, debug=debug,
                                   no_new_keyring=opts.get("no-new-keyring", False))


def run(ctx, opts: dict, args: list, command: str) -> int:
    cid = one_id(args, command)
    container.create(ctx.root, cid, options(opts, warn=ctx.log.warning, debug=ctx.log.debug))
    return 0
