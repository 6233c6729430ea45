"""ctr run: a container from an image or a rootfs directory, attached or detached."""
import os

from busybox_engine.cli.ctr.common import Ctx
from busybox_engine.rpc.client import Client
from busybox_engine.rpc.errors import RPCError
from busybox_engine.util.flags import UsageError, parse_flags


def parse_mount(text: str) -> dict:
    fields = dict(kv.split("=", 1) for kv in text.split(",") if "=" in kv)
    if "src" not in fields and "source" not in fields or "dst" not in fields and "destination" not in fields:
        raise UsageError(f"invalid --mount {text!r}: want type=bind,src=PATH,dst=PATH[,options=rbind:ro]")
    return {"type": fields.get("type", "bind"), "source": fields.get("src") or fields.get("source"),
            "destination": fields.get("dst") or fields.get("destination"),
            "options": fields.get("options", "rbind").split(":")}


def main(ctx: Ctx, argv: list) -> int:
    opts, args = parse_flags(argv, {"rm": bool, "detach": bool, "tty": bool, "env": list,
                                    "cwd": str, "rootfs": str, "mount": list, "log": str},
                             {"d": "detach", "t": "tty"}, combine_short=True)
    image = None
    if opts.get("rootfs"):
        if not args:
            raise UsageError("run --rootfs DIR needs a container id")
        cid, cmd = args[0], args[1:]
    else:
        if len(args) < 2:
            raise UsageError("run IMAGE ID [ARGS...] (or --rootfs DIR ID [ARGS...])")
        image, cid, cmd = args[0], args[1], args[2:]
    c = ctx.client
    ns = ctx.namespace
    from busybox_engine.oci.defaultspec import default_spec
    spec = default_spec(ns, cid)
    proc = spec["process"]
    proc["terminal"] = opts.get("tty", False)
    if image:
        cfg = (c.call("images.config", name=image, namespace=ns).get("config") or {})
        proc["args"] = (cfg.get("Entrypoint") or []) + (cmd or cfg.get("Cmd") or [])
        proc["env"] = cfg.get("Env") or proc["env"]
        proc["cwd"] = cfg.get("WorkingDir") or "/"
        user = cfg.get("User") or ""
        if user:
            uid, _, gid = user.partition(":")
            if not uid.isdigit() or (gid and not gid.isdigit()):
                raise UsageError(f"image user {user!r}: only numeric uid[:gid] for now")
            proc["user"] = {"uid": int(uid), "gid": int(gid or 0)}
    else:
        proc["args"] = cmd or ["sh"]
    if not proc["args"]:
        raise UsageError("no command: give one, or use an image with a Cmd")
    proc["env"] += opts.get("env") or []
    if proc["terminal"] and not any(e.startswith("TERM=") for e in proc["env"]):
        proc["env"].append("TERM=xterm")
    if opts.get("cwd"):
        proc["cwd"] = opts["cwd"]
    spec["mounts"] += [parse_mount(m) for m in opts.get("mount") or []]
    if image:
        c.call("containers.create", id=cid, spec=spec, image=image, namespace=ns)
    else:
        c.call("containers.create", id=cid, spec=spec, rootfs=os.path.abspath(opts["rootfs"]), namespace=ns)
    interactive = not opts.get("detach")
    tty = opts.get("tty", False)
    try:
        c.call("tasks.create", container_id=cid, namespace=ns, stdin=interactive,
               terminal=tty, log_path=opts.get("log", ""))
        stream = None
        if interactive:
            # attached before it starts: not a byte of its output is missed
            from busybox_engine.cli.ctr.relay import attach
            stream, _ = attach(ctx, cid, tty=tty)
        try:
            if tty:
                send_size(c, cid, ns)
            c.call("tasks.start", container_id=cid, namespace=ns)
            if not interactive:
                return 0
            from busybox_engine.cli.ctr.relay import relay
            waiting = c.send("tasks.wait", {"container_id": cid, "namespace": ns})
            status = relay(ctx, cid, stream, tty, waiting=waiting)
        finally:
            if stream is not None:
                stream.close()
    except BaseException:
        if opts.get("rm"):
            cleanup(ctx.client, cid, ns)
        raise
    if opts.get("rm"):
        cleanup(ctx.client, cid, ns)
    return status


def cleanup(c: Client, cid: str, ns: str) -> None:
    try:
        c.call("tasks.delete", container_id=cid, namespace=ns, force=True)
    except RPCError:
        pass
    try:
        c.call("containers.delete", id=cid, namespace=ns)
    except RPCError:
        pass


def send_size(c: Client, cid: str, ns: str, exec_id: str = "") -> None:
    """Our terminal's size to the process's pty."""
    if not os.isatty(0):
        return
    import fcntl
    import struct
    import termios
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
    if rows and cols:
        c.call("tasks.resize_pty", container_id=cid, namespace=ns, width=cols, height=rows,
               exec_id=exec_id)
