"""ctr images import|export|pull|push|ls|rm|tag"""
import os
import sys

from busybox_engine.cli.ctr.common import Ctx, table
from busybox_engine.util.flags import UsageError, parse_flags


def main(ctx: Ctx, argv: list) -> int:
    if not argv:
        raise UsageError("images import|export|pull|push|ls|rm|tag")
    verb, rest = argv[0], argv[1:]
    c = ctx.client
    ns = ctx.namespace
    if verb == "import":
        if not rest:
            raise UsageError("images import FILE")
        for name in c.call("images.import", path=os.path.abspath(rest[0]), namespace=ns):
            sys.stdout.write(f"unpacking {name}...done\n")
    elif verb in ("pull", "push"):
        flags = {"plain-http": bool, "user": str, "platform": str}
        if verb == "push":
            flags.update({"mount-from": str, "chunk-size": int})
        opts, args = parse_flags(rest, flags, {"u": "user"})
        if len(args) != 1 and not (verb == "push" and len(args) == 2):
            raise UsageError("images pull [--plain-http] [--user USER[:PASSWORD]] [--platform OS/ARCH] REF\n"
                             "images push [--plain-http] [--user USER[:PASSWORD]] [--mount-from REPO] REMOTE [LOCAL]")
        user, password = registry_login(opts.get("user") or "", args[0])
        params = {"name": args[0], "namespace": ns, "plain_http": opts.get("plain-http", False),
                  "user": user, "password": password}
        if verb == "pull":
            params["platform"] = opts.get("platform") or "linux/amd64"
        else:
            params.update(image=args[1] if len(args) == 2 else "", mount_from=opts.get("mount-from") or "",
                          chunk_size=opts.get("chunk-size") or 0)
        tty = sys.stdout.isatty()

        def told(method: str, p: dict) -> None:
            if method != f"images.{verb}.progress":
                return
            if "offset" in p:  # bytes so far: a line redrawn on a terminal, nothing in a log
                if tty:
                    sys.stdout.write(f"\r{p['digest'][:19]}: {p['status']} {p['offset'] >> 20}/{p['size'] >> 20} MiB")
                    sys.stdout.flush()
                return
            source = f" from {p['from']}" if p.get("from") else ""
            erase = "\r\033[K" if tty else ""
            sys.stdout.write(f"{erase}{p['digest']}: {p['status']}{source} ({p['size']} B)\n")
        r = c.wait(c.send(f"images.{verb}", params), told)
        if verb == "pull":
            sys.stdout.write(f"unpacking {r['name']} ({r['target']['digest']})...done\n")
        else:
            sys.stdout.write(f"pushed {args[0]} ({r['digest']}): {r['uploaded']} uploaded, {r['mounted']} mounted,"
                             f" {r['existing']} already there\n")
    elif verb == "export":
        if len(rest) < 2:
            raise UsageError("images export FILE IMAGE...")
        c.call("images.export", names=rest[1:], path=os.path.abspath(rest[0]), namespace=ns)
    elif verb in ("ls", "list"):
        opts, _ = parse_flags(rest, {"quiet": bool}, {"q": "quiet"})
        records = c.call("images.list", namespace=ns)
        if opts.get("quiet"):
            sys.stdout.write("".join(r["name"] + "\n" for r in records))
        else:
            sys.stdout.write(table([("REF", "TYPE", "DIGEST", "SIZE")] +
                                   [(r["name"], r["target"]["mediaType"], r["target"]["digest"],
                                     f"{r['target']['size']} B") for r in records]))
    elif verb in ("rm", "remove", "delete", "del"):
        for name in rest:
            c.call("images.delete", name=name, namespace=ns)
            sys.stdout.write(name + "\n")
    elif verb == "tag":
        if len(rest) != 2:
            raise UsageError("images tag SOURCE TARGET")
        sys.stdout.write(c.call("images.tag", source=rest[0], target=rest[1], namespace=ns)["name"] + "\n")
    else:
        raise UsageError(f"unknown images command {verb!r}")
    return 0




def registry_login(flag: str, ref: str) -> tuple:
    """(user, password): from --user USER[:PASSWORD] (asking for a missing
    password), else where `docker login` stored them, as docker would."""
    user, _, password = flag.partition(":")
    if user and not password:
        import getpass
        password = getpass.getpass("Password: ")
    if not user:
        from busybox_engine.image import credentials
        from busybox_engine.image.reference import parse
        user, password = credentials.lookup(parse(ref).domain) or ("", "")
    return user, password
