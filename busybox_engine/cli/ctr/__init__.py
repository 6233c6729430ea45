"""ctr: a small client of our containerd, like containerd's own ctr; one
module per verb, imported only when it runs."""
import os
import sys

USAGE = """usage: ctr [-a ADDRESS] [-n NAMESPACE] COMMAND [ARGS...]

commands:
   run [--rm] [-d] [-t] [--env K=V] [--cwd DIR] [--mount type=bind,src=S,dst=D,options=rbind:ro]
       [--log FILE] IMAGE ID [ARGS...]  |  --rootfs DIR ID [ARGS...]
   images, i       import FILE | export FILE IMAGE... | pull [--plain-http] [--user U[:P]]
                   [--platform OS/ARCH] REF | push [--plain-http] [--mount-from REPO] REMOTE [LOCAL]
                   | ls [-q] | rm REF... | tag SOURCE TARGET
   containers, c   ls [-q] | rm ID... | info ID
   tasks, t        ls | kill [-s SIGNAL] [-a] ID | ps ID | pause ID | resume ID | rm [-f] ID...
                   | exec --exec-id E [-t] [--cwd DIR] ID ARGS... | attach ID | metrics ID
   events          containerd's events as they happen
   content         ls | rm DIGEST...
   snapshots       ls

global options:
   -a, --address   containerd's socket (default $CONTAINERD_ADDRESS or /run/busybox-engine/containerd.sock)
   -n, --namespace namespace (default $CONTAINERD_NAMESPACE or default)
   -h, --help      this text
"""

# verb -> module in this package
COMMANDS = {"run": "run", "containers": "containers", "c": "containers", "container": "containers",
            "images": "images", "image": "images", "i": "images",
            "tasks": "tasks", "t": "tasks", "task": "tasks", "events": "events",
            "content": "content", "snapshots": "snapshots", "snapshot": "snapshots"}


def main(argv: list) -> int:
    from busybox_engine.rpc.errors import RPCError
    from busybox_engine.util.flags import UsageError, parse_flags
    try:
        opts, rest = parse_flags(argv, {"address": str, "namespace": str, "help": bool},
                                 {"a": "address", "n": "namespace", "h": "help"}, combine_short=True)
        if opts.get("help") or not rest:
            sys.stdout.write(USAGE)
            return 0
        module_name = COMMANDS.get(rest[0])
        if module_name is None:
            raise UsageError(f"No help topic for '{rest[0]}'")
        from busybox_engine.cli.ctr.common import DEFAULT_ADDRESS, Ctx
        address = opts.get("address") or os.environ.get("CONTAINERD_ADDRESS") or DEFAULT_ADDRESS
        if address.startswith("unix://"):
            address = address[len("unix://"):]
        ctx = Ctx(address, opts.get("namespace") or os.environ.get("CONTAINERD_NAMESPACE") or "default")
        module = __import__(f"busybox_engine.cli.ctr.{module_name}", fromlist=["main"])
        return module.main(ctx, rest[1:])
    except UsageError as e:
        sys.stderr.write(f"ctr: {e}\n")
        return 1
    except RPCError as e:
        sys.stderr.write(f"ctr: {e.message}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except OSError as e:
        sys.stderr.write(f"ctr: {e.strerror or e}{': ' + str(e.filename) if e.filename else ''}\n")
        return 1
    except Exception as e:  # noqa: BLE001 - a bug is one line, not a traceback
        sys.stderr.write(f"ctr: internal error: {type(e).__name__}: {e}\n")
        return 1
