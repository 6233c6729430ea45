"""docker create and docker run: the container from the flags, the image
pulled when missing, then (run) attached, started and waited for."""
import os
import sys

from busybox_engine.cli.api import API, DaemonError, NoDaemon
from busybox_engine.cli.commands import createopts
from busybox_engine.cli.flags import Command, ReportError, UsageError

CREATE = Command("docker create", "docker create [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container",
                 min_args=1, interspersed=False,
                 flags=sorted(createopts.CREATE_FLAGS + createopts.CREATE_ONLY_FLAGS, key=lambda f: f.name))
RUN = Command("docker run", "docker run [OPTIONS] IMAGE [COMMAND] [ARG...]",
              "Run a command in a new container", min_args=1, interspersed=False,
              flags=sorted(createopts.CREATE_FLAGS + createopts.RUN_ONLY_FLAGS, key=lambda f: f.name))


def familiar_tagged(ref: str) -> str:
    """busybox -> busybox:latest, as the CLI names what it pulls."""
    name, at, digest = ref.partition("@")
    if at:
        return ref
    last = name.rsplit("/", 1)[-1]
    return ref if ":" in last else ref + ":latest"


def pull_image(ctx, ref: str, out) -> None:
    """POST /images/create with the config's credentials; its progress on out."""
    from busybox_engine.cli.commands.registry import auth_header, print_messages, split_ref
    name, tag, _tagged = split_ref(ref)
    resp = ctx.api.stream("POST", "/images/create", {"fromImage": name, "tag": tag or "latest"},
                          headers=auth_header(ctx, name))
    print_messages(resp.chunks, out)


def _create(ctx, v, args, detach: bool) -> str:
    query, body = createopts.build(v, args, detach=detach)
    pull = v.pull
    if pull not in ("always", "missing", "never"):
        raise ReportError(f'invalid pull option: \'{pull}\': must be one of "always", "missing" or "never"')
    image = args[0]
    if pull == "always":
        pull_image(ctx, image, sys.stderr)
    try:
        resp = ctx.api.request("POST", "/containers/create", query, body=body)
    except DaemonError as e:
        if e.status != 404 or pull == "never" or "No such image" not in e.message:
            raise
        sys.stderr.write(f"Unable to find image '{familiar_tagged(image)}' locally\n")
        pull_image(ctx, image, sys.stderr)
        resp = ctx.api.request("POST", "/containers/create", query, body=body)
    created = resp.json() or {}
    for w in created.get("Warnings") or []:
        sys.stderr.write(f"WARNING: {w}\n")
    cid = created.get("Id", "")
    if v.cidfile:
        try:
            fd = os.open(v.cidfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise ReportError(f"Container ID file found, make sure the other container isn't running or "
                              f"delete {v.cidfile}") from None
        with os.fdopen(fd, "w") as f:
            f.write(cid)
    return cid


def _report(path: str, message: str, hint: bool) -> None:
    message = message.rstrip(".") + "."
    sys.stdout.flush()
    sys.stderr.write(f"docker: {message}\n" + (f"See '{path} --help'.\n" if hint else ""))


def create(ctx, v, args) -> int:
    from busybox_engine.cli.api import StreamError
    try:
        cid = _create(ctx, v, args, detach=False)   # create attaches as run would, then returns
    except StreamError as e:
        _report(CREATE.path, str(e), True)
        return 125
    except DaemonError as e:
        _report(CREATE.path, f"Error response from daemon: {e.message}", True)
        return 125
    except NoDaemon as e:
        _report(CREATE.path, str(e), True)
        return 125
    sys.stdout.write(cid + "\n")
    return 0


def exit_status_for(message: str) -> int:
    if "executable file not found" in message or "no such file or directory" in message:
        return 127
    if "permission denied" in message:
        return 126
    return 125


def run(ctx, v, args) -> int:
    from busybox_engine.cli.api import StreamError
    detach = v.detach
    try:
        cid = _create(ctx, v, args, detach=detach)
    except StreamError as e:
        _report(RUN.path, str(e), True)
        return 125
    except DaemonError as e:
        _report(RUN.path, f"Error response from daemon: {e.message}", True)
        return 125
    except NoDaemon as e:
        _report(RUN.path, str(e), True)
        return 125
    if detach:
        try:
            ctx.api.post(f"/containers/{cid}/start")
        except DaemonError as e:
            _report(RUN.path, f"Error response from daemon: {e.message}", False)
            return exit_status_for(e.message)
        sys.stdout.write(cid + "\n")
        return 0
    from busybox_engine.cli.attach import Attachment
    attach = [a.lower() for a in v.attach] or (["stdin", "stdout", "stderr"] if v.interactive
                                               else ["stdout", "stderr"])
    att = Attachment(ctx.host, cid, tty=v.tty, stdin="stdin" in attach, stdout="stdout" in attach,
                     stderr="stderr" in attach, detach_keys=v.detach_keys or ctx.config.get("detachKeys"),
                     api_version=ctx.api.version, tls=ctx.tls)
    try:
        att.open()
    except DaemonError as e:
        _report(RUN.path, f"Error response from daemon: {e.message}", False)
        return 125
    # the wait is asked for before the start: a fast exit is not missed
    from busybox_engine.cli.attach import ask_wait
    waiter = ask_wait(ctx, cid, "removed" if v.rm else "next-exit")
    try:
        ctx.api.post(f"/containers/{cid}/start")
    except DaemonError as e:
        att.close()
        _report(RUN.path, f"Error response from daemon: {e.message}", False)
        if v.rm:
            try:
                waiter.http.read_response("POST")
            except (OSError, Exception):  # noqa: BLE001 - it is gone either way
                pass
        waiter.close()
        return exit_status_for(e.message)
    restore = _proxy_signals(ctx, cid) if v.sig_proxy and not v.tty else None
    try:
        detached = att.pump(resize=lambda h, w: _resize(ctx.api, cid, h, w))
    finally:
        if restore is not None:
            restore()
    if detached:
        waiter.close()
        return 0
    try:
        resp = waiter.http.read_response("POST")
    except Exception:  # noqa: BLE001 - the daemon went away
        waiter.close()
        return 125
    waiter.close()
    if resp.status >= 400:
        _report(RUN.path, f"Error response from daemon: {resp.error_message()}", False)
        return 125
    result = resp.json() or {}
    if (result.get("Error") or {}).get("Message"):
        _report(RUN.path, result["Error"]["Message"], False)
        return 125
    return int(result.get("StatusCode", 0))


def _proxy_signals(ctx, cid: str):
    """--sig-proxy (the default without a TTY): the signals we get go to
    the container, as the docker CLI forwards them; returns the undo."""
    import signal
    sent = {}

    def forward(signum, _frame):
        try:
            api = API(ctx.host, ctx.tls)
            api.version = ctx.api.version
            api.post(f"/containers/{cid}/kill", {"signal": str(signum)})
            api.close()
        except (DaemonError, NoDaemon, OSError):
            pass
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        sent[sig] = signal.signal(sig, forward)

    def restore():
        for sig, old in sent.items():
            signal.signal(sig, old)
    return restore


def _resize(api, cid: str, h: int, w: int) -> None:
    try:
        api.post(f"/containers/{cid}/resize", {"h": str(h), "w": str(w)})
    except (DaemonError, NoDaemon):
        pass


SPECS = {"create": (CREATE, create), "run": (RUN, run)}

__all__ = ["SPECS", "UsageError"]
