"""Health checks: the image's HEALTHCHECK or --health-*, run as execs in
the running container, with Docker's timing, states and events."""
import asyncio
import secrets
import struct
import sys

from busybox_engine.rpc.errors import RPCError
from busybox_engine.util.timefmt import rfc3339nano

SECOND = 1_000_000_000
DEFAULTS = {"Interval": 30 * SECOND, "Timeout": 30 * SECOND, "StartPeriod": 0, "Retries": 3}
MAX_LOG = 5
MAX_OUTPUT = 4096


def probe_command(test: list) -> list | None:
    """The argv of a Healthcheck.Test; None for none."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return list(test[1:]) or None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test)


def settings(check: dict) -> dict:
    return {k: int(check.get(k) or v) for k, v in DEFAULTS.items()}


async def run_probe(engine, c, argv: list, timeout: float) -> tuple:
    """(exit code, output) of argv run in c; -1 when it timed out."""
    eid = "health-" + secrets.token_hex(8)
    process = engine.process_spec(c)
    process["args"] = argv
    process["terminal"] = False
    ctd = engine.ctd
    await ctd.call("tasks.exec", container_id=c.id, exec_id=eid, process=process)
    loop = asyncio.get_running_loop()
    sock = None
    try:
        sock = await ctd.open_stream("tasks.attach", container_id=c.id, exec_id=eid)
        await ctd.call("tasks.start", container_id=c.id, exec_id=eid)
        out = bytearray()

        async def read():
            while True:
                data = await loop.sock_recv(sock, 65536)
                if not data:
                    return
                out.extend(data)
                if len(out) > 4 * MAX_OUTPUT:
                    del out[:len(out) - 4 * MAX_OUTPUT]
        try:
            await asyncio.wait_for(read(), timeout)
            r = await asyncio.wait_for(ctd.call("tasks.wait", container_id=c.id, exec_id=eid), timeout)
            code = r.get("exit_status", -1)
        except asyncio.TimeoutError:
            code = -1
            try:
                await ctd.call("tasks.kill", container_id=c.id, exec_id=eid, signal=9)
            except RPCError:
                pass
        return code, _unframe(bytes(out))[-MAX_OUTPUT:].decode("utf-8", "replace")
    finally:
        if sock is not None:
            sock.close()
        try:
            await ctd.call("tasks.delete", container_id=c.id, exec_id=eid, force=True)
        except RPCError:
            pass


def _unframe(data: bytes) -> bytes:
    """The payloads of a stdcopy stream, stdout and stderr together."""
    out, i = bytearray(), 0
    while i + 8 <= len(data):
        size = struct.unpack(">L", data[i + 4:i + 8])[0]
        out += data[i + 8:i + 8 + size]
        i += 8 + size
    return bytes(out)


async def monitor(engine, c) -> None:
    """Probe c until it stops running; its State.Health kept up to date."""
    check = c.config.get("Healthcheck") or {}
    argv = probe_command(check.get("Test") or [])
    if argv is None:
        return
    s = settings(check)
    health = {"Status": "starting", "FailingStreak": 0, "Log": []}
    c.state["Health"] = health
    c.save()
    started = asyncio.get_running_loop().time()
    try:
        while c.state["Running"]:
            await asyncio.sleep(s["Interval"] / SECOND)
            if not c.state["Running"] or c.state["Paused"]:
                continue
            start = rfc3339nano()
            try:
                code, output = await run_probe(engine, c, argv, s["Timeout"] / SECOND)
            except RPCError as e:
                code, output = -1, str(e)
            if code == -1 and not output:
                output = f"Health check exceeded timeout ({s['Timeout'] / SECOND:g}s)"
            health["Log"] = (health["Log"] + [{"Start": start, "End": rfc3339nano(), "ExitCode": code,
                                               "Output": output}])[-MAX_LOG:]
            before = health["Status"]
            in_start_period = asyncio.get_running_loop().time() - started < s["StartPeriod"] / SECOND
            if code == 0:
                health["FailingStreak"] = 0
                health["Status"] = "healthy"
            elif not in_start_period or before != "starting":
                health["FailingStreak"] += 1
                if health["FailingStreak"] >= s["Retries"]:
                    health["Status"] = "unhealthy"
            c.save()
            if health["Status"] != before:
                engine.container_event(c, f"health_status: {health['Status']}")
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001 - a broken probe loop is logged, the container runs on
        sys.stderr.write(f"dockerd: health check of {c.id[:12]}: {e!r}\n")
