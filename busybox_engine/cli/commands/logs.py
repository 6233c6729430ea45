"""docker logs, exec and attach: the container's streams on ours."""
import sys
import time

from busybox_engine.cli.api import API, DaemonError, q
from busybox_engine.cli.flags import Command, Flag, parse_duration
from busybox_engine.cli.http import ConnectError


def timestamp_arg(value: str) -> str:
    """--since/--until as the docker CLI sends them: a duration before now,
    a date (RFC 3339, or a part of one) or unix seconds, as 'secs.nanos'."""
    if not value:
        return value
    try:
        d = parse_duration(value)
    except ValueError:
        d = None
    if d is not None:
        t = time.time() - d
        return f"{int(t)}.{int((t % 1) * 1e9):09d}"
    if all(c.isdigit() or c == "." for c in value):
        return value
    from busybox_engine.util.timefmt import parse_rfc3339
    for candidate in (value, value + "Z", value + "T00:00:00Z", value + ":00Z"):
        t = parse_rfc3339(candidate)
        if t:
            return f"{int(t)}.{int(round((t % 1) * 1e9)):09d}"
    raise ValueError(f"failed to parse value as time or duration: \"{value}\"")


def _inspect(api: API, name: str) -> dict:
    try:
        return api.get(f"/containers/{q(name)}/json")
    except DaemonError as e:
        if e.status == 404:
            raise NoSuch(name) from None
        raise


class NoSuch(Exception):
    def __init__(self, name: str):
        super().__init__(f"Error: No such container: {name}")


def copy_stream(chunks, tty: bool) -> None:
    """A logs/attach body to stdout/stderr: raw with a TTY, else its
    8-byte-header frames split by stream."""
    from busybox_engine.cli.attach import _Demux, _write_all
    demux = None if tty else _Demux()
    for chunk in chunks:
        if demux is None:
            _write_all(1, chunk)
        else:
            for fd, data in demux.feed(chunk):
                _write_all(fd, data)


LOGS = Command("docker logs", "docker logs [OPTIONS] CONTAINER", "Fetch the logs of a container", exact_args=1,
               flags=[
                   Flag("details", help="Show extra details provided to logs"),
                   Flag("follow", short="f", help="Follow log output"),
                   Flag("since", "string", help="Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative "
                                                "(e.g. 42m for 42 minutes)"),
                   Flag("tail", "string", short="n", default="all",
                        help="Number of lines to show from the end of the logs"),
                   Flag("timestamps", short="t", help="Show timestamps"),
                   Flag("until", "string", help="Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or "
                                                "relative (e.g. 42m for 42 minutes)"),
               ])


def logs(ctx, v, args) -> int:
    try:
        info = _inspect(ctx.api, args[0])
    except NoSuch as e:
        sys.stderr.write(f"{e}\n")
        return 1
    try:
        since, until = timestamp_arg(v.since), timestamp_arg(v.until)
    except ValueError as e:
        sys.stderr.write(f"Error response from daemon: {e}\n")
        return 1
    query = {"stdout": "1", "stderr": "1", "follow": "1" if v.follow else None, "since": since or None,
             "until": until or None, "timestamps": "1" if v.timestamps else None,
             "details": "1" if v.details else None, "tail": v.tail}
    resp = ctx.api.stream("GET", f"/containers/{q(args[0])}/logs", query)
    try:
        copy_stream(resp.chunks, bool((info.get("Config") or {}).get("Tty")))
    except KeyboardInterrupt:
        return 130
    return 0


EXEC = Command("docker exec", "docker exec [OPTIONS] CONTAINER COMMAND [ARG...]",
               "Run a command in a running container", min_args=2, interspersed=False, flags=[
                   Flag("detach", short="d", help="Detached mode: run command in the background"),
                   Flag("detach-keys", "string", help="Override the key sequence for detaching a container"),
                   Flag("env", "list", short="e", help="Set environment variables"),
                   Flag("env-file", "list", help="Read in a file of environment variables"),
                   Flag("interactive", short="i", help="Keep STDIN open even if not attached"),
                   Flag("privileged", help="Give extended privileges to the command"),
                   Flag("tty", short="t", help="Allocate a pseudo-TTY"),
                   Flag("user", "string", short="u", help="Username or UID (format: <name|uid>[:<group|gid>])"),
                   Flag("workdir", "string", short="w", help="Working directory inside the container"),
               ])


def exec_(ctx, v, args) -> int:
    from busybox_engine.cli.commands.createopts import _env_value, _read_kv_file
    name, cmd = args[0], args[1:]
    env = [_env_value(e) for f in v.env_file for e in _read_kv_file(f, "variable")] + \
        [_env_value(e) for e in v.env]
    body = {"User": v.user, "Privileged": v.privileged, "Tty": v.tty, "AttachStdin": v.interactive and not v.detach,
            "AttachStdout": not v.detach, "AttachStderr": not v.detach, "Detach": v.detach,
            "DetachKeys": v.detach_keys or ctx.config.get("detachKeys") or "", "Env": env or None,
            "WorkingDir": v.workdir, "Cmd": cmd}
    try:
        _inspect(ctx.api, name)
        created = ctx.api.post(f"/containers/{q(name)}/exec", body=body).json() or {}
    except NoSuch as e:
        sys.stderr.write(f"{e}\n")
        return 1
    exec_id = created.get("Id", "")
    if v.detach:
        ctx.api.post(f"/exec/{exec_id}/start", body={"Detach": True, "Tty": v.tty})
        return 0
    from busybox_engine.cli.attach import Attachment
    att = Attachment(ctx.host, name, tty=v.tty, stdin=v.interactive, stdout=True, stderr=True,
                     detach_keys=body["DetachKeys"] or None, api_version=ctx.api.version, tls=ctx.tls)
    att.open_exec(exec_id)
    detached = att.pump(resize=lambda h, w: _quiet(ctx.api, f"/exec/{exec_id}/resize", {"h": str(h), "w": str(w)}))
    if detached:
        return 0
    info = ctx.api.get(f"/exec/{exec_id}/json") or {}
    return int(info.get("ExitCode") or 0)


def _quiet(api, path, query) -> None:
    try:
        api.post(path, query)
    except DaemonError:
        pass


ATTACH = Command("docker attach", "docker attach [OPTIONS] CONTAINER",
                 "Attach local standard input, output, and error streams to a running container", exact_args=1,
                 flags=[
                     Flag("detach-keys", "string", help="Override the key sequence for detaching a container"),
                     Flag("no-stdin", help="Do not attach STDIN"),
                     Flag("sig-proxy", default=True, help="Proxy all received signals to the process"),
                 ])


def attach(ctx, v, args) -> int:
    name = args[0]
    try:
        info = _inspect(ctx.api, name)
    except NoSuch as e:
        sys.stderr.write(f"{e}\n")
        return 1
    state = info.get("State") or {}
    if not state.get("Running"):
        sys.stderr.write("You cannot attach to a stopped container, start it first\n")
        return 1
    if state.get("Paused"):
        sys.stderr.write("You cannot attach to a paused container, unpause it first\n")
        return 1
    cfg = info.get("Config") or {}
    from busybox_engine.cli.attach import Attachment
    att = Attachment(ctx.host, name, tty=bool(cfg.get("Tty")), stdin=bool(cfg.get("OpenStdin")) and not v.no_stdin,
                     stdout=True, stderr=True, detach_keys=v.detach_keys or ctx.config.get("detachKeys"),
                     api_version=ctx.api.version, tls=ctx.tls)
    att.open()
    # the wait is asked for while attached: its answer is the exit status
    from busybox_engine.cli.attach import ask_wait
    waiter = ask_wait(ctx, q(name))
    try:
        detached = att.pump(resize=lambda h, w: _quiet(ctx.api, f"/containers/{q(name)}/resize",
                                                      {"h": str(h), "w": str(w)}), nudge=True)
        if detached:
            sys.stderr.write("read escape sequence\n")
            return 1
        try:
            resp = waiter.http.read_response("POST")
        except (OSError, ValueError, ConnectError):
            return 0
        if resp.status >= 400:
            return 0
        return int((resp.json() or {}).get("StatusCode", 0))
    finally:
        waiter.close()


SPECS = {"logs": (LOGS, logs), "exec": (EXEC, exec_), "attach": (ATTACH, attach)}

__all__ = ["SPECS"]
