"""The CRI streaming server: Exec, Attach and PortForward answer a URL
(http://ADDRESS:PORT/exec/TOKEN, a token good once for a minute) that
kubelet or crictl then upgrades to SPDY/3.1 or WebSocket with Kubernetes'
channel protocols (v1-v5.channel.k8s.io, portforward.k8s.io), as the
streaming server of containerd's CRI plugin does.

Sessions run against the container's shim: an exec is a task exec whose
stdio is attached (tasks.attach's framing: 8-byte Docker headers without a
terminal, raw bytes with one), an attach is the same on the init process,
a port-forward is a TCP connection made in the pod's network namespace."""
import asyncio
import json
import os
import socket
import struct
import sys
import time

from busybox_engine.cri import NAMESPACE

TOKEN_TTL = 60
EXEC_PROTOCOLS = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
WS_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                "channel.k8s.io")
PORTFORWARD = "portforward.k8s.io"
STREAM_TIMEOUT = 30


def status(exit_code: int | None = None, error: str = "") -> bytes:
    """What the error channel carries at the end (a metav1.Status)."""
    if error:
        return json.dumps({"metadata": {}, "status": "Failure", "message": error, "reason": "InternalError",
                           "details": {"causes": [{"message": error}]}, "code": 500}).encode()
    if not exit_code:
        return b'{"metadata":{},"status":"Success"}'
    return json.dumps({"metadata": {}, "status": "Failure",
                       "message": f"command terminated with non-zero exit code: exit status {exit_code}",
                       "reason": "NonZeroExitCode",
                       "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}}).encode()


class Server:
    def __init__(self, config, tasks, containers, pods, ctrs):
        self.config = config
        self.tasks = tasks
        self.containers = containers   # containerd's containers service
        self.pods = pods
        self.ctrs = ctrs
        self.requests = {}             # token -> (deadline, kind, params)
        self.server = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, self.config.stream_address,
                                                 self.config.stream_port or 0)
        self.port = self.server.sockets[0].getsockname()[1]

    def close(self) -> None:
        if self.server is not None:
            self.server.close()

    def url(self, kind: str, params: dict) -> str:
        now = time.monotonic()
        self.requests = {t: r for t, r in self.requests.items() if r[0] > now}
        token = os.urandom(12).hex()
        self.requests[token] = (now + TOKEN_TTL, kind, params)
        host = self.config.stream_address
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/{kind}/{token}"

    # --- HTTP --------------------------------------------------------------------------

    async def _serve(self, reader, writer) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = (lines[0].split(" ") + ["", ""])[:3]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers.setdefault(k.strip().lower(), []).append(v.strip())
        parts = path.split("?")[0].strip("/").split("/")
        request = None
        if len(parts) == 2 and parts[1] in self.requests:
            deadline, kind, params = self.requests.pop(parts[1])
            if kind == parts[0] and deadline > time.monotonic():
                request = (kind, params)
        if request is None:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            writer.close()
            return
        upgrade = ",".join(headers.get("upgrade", [])).lower()
        offered = [p.strip() for v in headers.get("x-stream-protocol-version", []) + headers.get(
            "sec-websocket-protocol", []) for p in v.split(",")]
        try:
            if "websocket" in upgrade:
                await self._websocket(reader, writer, headers, offered, *request)
            elif "spdy/3.1" in upgrade:
                await self._spdy(reader, writer, offered, *request)
            else:
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except Exception as e:  # noqa: BLE001 - one session's failure is its own
            sys.stderr.write(f"containerd: CRI streaming {request[0]}: {type(e).__name__}: {e}\n")
        finally:
            writer.close()

    @staticmethod
    def _choose(offered: list, supported: tuple) -> str:
        for p in supported:
            if p in offered:
                return p
        return ""

    async def _spdy(self, reader, writer, offered: list, kind: str, params: dict) -> None:
        from busybox_engine.cri.spdy import Connection
        protocol = self._choose(offered, (PORTFORWARD,) if kind == "portforward" else EXEC_PROTOCOLS)
        if not protocol:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                      f"X-Stream-Protocol-Version: {protocol}\r\n\r\n").encode())
        arrived = asyncio.Queue()
        conn = Connection(reader, writer, arrived.put_nowait)
        pump = asyncio.get_running_loop().create_task(conn.serve())
        try:
            if kind == "portforward":
                await self._portforward_spdy(conn, arrived, params)
            else:
                channels = await SpdyChannels.gather(conn, arrived, params, protocol)
                await self._session(kind, params, channels)
            await conn.drain()
        finally:
            conn.close()
            pump.cancel()

    async def _websocket(self, reader, writer, headers: dict, offered: list, kind: str, params: dict) -> None:
        from busybox_engine.cri.websocket import WebSocket, accept_key
        key = (headers.get("sec-websocket-key") or [""])[0]
        supported = ("v4.portforward.k8s.io", PORTFORWARD) if kind == "portforward" else WS_PROTOCOLS
        protocol = self._choose(offered, supported)
        if not key or not protocol:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept_key(key)}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n")
                     .encode())
        ws = WebSocket(reader, writer)
        if kind == "portforward":
            await self._portforward_ws(ws, params)
        else:
            await self._session(kind, params, WsChannels(ws, params, protocol))
        await ws.close()

    # --- exec and attach -----------------------------------------------------------------

    async def _session(self, kind: str, params: dict, ch) -> None:
        cid = params["container_id"]
        exec_id = ""
        try:
            if kind == "exec":
                from busybox_engine.cri.containers import open_exec
                exec_id, sock = await open_exec(self.tasks, self.containers, cid, params["cmd"], params["tty"],
                                                params["stdin"])
            else:
                _, sock = await self.tasks.open_stream(cid, NAMESPACE, stdin=params["stdin"],
                                                       close_stdin=params.get("stdin_once", False))
        except Exception as e:  # noqa: BLE001 - told to the client on its error channel
            await ch.finish(status(error=f"{kind}: {getattr(e, 'message', '') or e}"))
            return
        loop = asyncio.get_running_loop()
        sock.setblocking(False)
        tasks = []
        try:
            if exec_id:
                await self.tasks.start(cid, NAMESPACE, exec_id=exec_id)
            out = loop.create_task(_pump_out(loop, sock, ch, params["tty"]))
            tasks.append(loop.create_task(_pump_in(loop, sock, ch)))
            if params["tty"]:
                tasks.append(loop.create_task(self._resizes(ch, cid, exec_id)))
            if exec_id:
                result = await self.tasks.wait(cid, NAMESPACE, exec_id=exec_id)
                try:
                    await asyncio.wait_for(out, 10)
                except asyncio.TimeoutError:
                    pass
                await ch.finish(status(result.get("exit_status", 0)))
            else:
                done, _ = await asyncio.wait([out, ch.gone()], return_when=asyncio.FIRST_COMPLETED)
                await ch.finish(status(0))
        except Exception as e:  # noqa: BLE001
            await ch.finish(status(error=f"{kind}: {getattr(e, 'message', '') or e}"))
        finally:
            for t in tasks:
                t.cancel()
            sock.close()
            if exec_id:
                try:
                    await self.tasks.delete(cid, NAMESPACE, exec_id=exec_id, force=True)
                except Exception:   # noqa: BLE001 - over either way
                    pass

    async def _resizes(self, ch, cid: str, exec_id: str) -> None:
        async for width, height in ch.resizes():
            try:
                await self.tasks.resize_pty(cid, width, height, NAMESPACE, exec_id=exec_id)
            except Exception:   # noqa: BLE001 - a resize lost is no reason to stop
                pass

    # --- port-forward --------------------------------------------------------------------

    def _dial(self, sandbox_id: str, port: int) -> socket.socket:
        record = self.pods.get(sandbox_id)
        from busybox_engine.network.netlink import in_netns

        def connect() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                s.close()
                raise
            s.setblocking(False)
            return s
        if not record["netns"]:   # a host-network pod
            return connect()
        return in_netns(record["netns"], connect)

    async def _forward(self, sandbox_id: str, port: int, read, write, close_write, report) -> None:
        loop = asyncio.get_running_loop()
        try:
            sock = await loop.run_in_executor(None, self._dial, sandbox_id, port)
        except OSError as e:
            await report(f"failed to connect to localhost:{port} inside namespace {sandbox_id!r}: "
                         f"{e.strerror or e}")
            return

        async def up():
            while True:
                data = await read()
                if not data:
                    break
                await loop.sock_sendall(sock, data)
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        async def down():
            while True:
                try:
                    data = await loop.sock_recv(sock, 65536)
                except OSError:
                    break
                if not data:
                    break
                await write(data)
            await close_write()
        t_up = loop.create_task(up())
        try:
            await down()
        finally:
            t_up.cancel()
            sock.close()

    async def _portforward_spdy(self, conn, arrived: asyncio.Queue, params: dict) -> None:
        pairs = {}
        running = set()
        loop = asyncio.get_running_loop()
        closed = conn.closed
        while True:
            getter = loop.create_task(arrived.get())
            done, _ = await asyncio.wait([getter, closed], return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            stream = getter.result()
            rid = stream.headers.get("requestid", "")
            pair = pairs.setdefault(rid, {})
            pair[stream.headers.get("streamtype", "")] = stream
            if "data" in pair and "error" in pair:
                del pairs[rid]
                data, err = pair["data"], pair["error"]
                try:
                    port = int(data.headers.get("port", ""))
                    if port not in params["ports"] and params["ports"]:
                        raise ValueError
                except ValueError:
                    await err.write(f"invalid port {data.headers.get('port')!r}".encode())
                    err.close()
                    data.close()
                    continue

                async def report(msg, err=err):
                    await err.write(msg.encode())

                async def close_data(data=data, err=err):
                    data.close()
                    err.close()
                t = loop.create_task(self._forward(params["sandbox_id"], port, data.read, data.write,
                                                   close_data, report))
                running.add(t)
                t.add_done_callback(running.discard)
        for t in list(running):
            t.cancel()

    async def _portforward_ws(self, ws, params: dict) -> None:
        """WebSocket port-forward (one port a channel pair: data 2n, error 2n+1;
        each channel's first frame from us names its port)."""
        ports = params["ports"]
        if not ports:
            return
        queues = [asyncio.Queue() for _ in ports]
        for i, port in enumerate(ports):
            await ws.send(bytes([2 * i]) + struct.pack("<H", port))
            await ws.send(bytes([2 * i + 1]) + struct.pack("<H", port))

        async def reader():
            while True:
                msg = await ws.recv()
                if msg is None:
                    break
                if msg and msg[0] % 2 == 0 and msg[0] // 2 < len(queues):
                    queues[msg[0] // 2].put_nowait(msg[1:])
            for q in queues:
                q.put_nowait(b"")
        loop = asyncio.get_running_loop()
        r = loop.create_task(reader())
        try:
            await asyncio.gather(*(self._forward(
                params["sandbox_id"], port, q.get, lambda d, i=i: ws.send(bytes([2 * i]) + d),
                lambda: asyncio.sleep(0), lambda m, i=i: ws.send(bytes([2 * i + 1]) + m.encode()))
                for i, (port, q) in enumerate(zip(ports, queues))))
        finally:
            r.cancel()


async def _pump_out(loop, sock, ch, tty: bool) -> None:
    """The process's output to the client's stdout and stderr."""
    from busybox_engine.api.streams import split_frames
    buf = b""
    while True:
        try:
            chunk = await loop.sock_recv(sock, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        if tty:
            await ch.stdout(chunk)
            continue
        frames, buf = split_frames(buf + chunk)
        for kind, data in frames:
            await (ch.stderr if kind == 2 else ch.stdout)(data)
    await ch.close_output()


async def _pump_in(loop, sock, ch) -> None:
    """The client's stdin to the process; its end closes the process's stdin."""
    async for data in ch.stdin():
        await loop.sock_sendall(sock, data)
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class SpdyChannels:
    """The streams of a remotecommand session over SPDY, by their streamtype."""

    def __init__(self, streams: dict, params: dict, protocol: str):
        self.streams = streams
        self.params = params
        self.protocol = protocol
        self.conn = next(iter(streams.values())).conn

    @classmethod
    async def gather(cls, conn, arrived: asyncio.Queue, params: dict, protocol: str) -> "SpdyChannels":
        want = {"error"}
        if params["stdin"]:
            want.add("stdin")
        if params["stdout"]:
            want.add("stdout")
        if params["stderr"] and not params["tty"]:
            want.add("stderr")
        if params["tty"] and protocol != "channel.k8s.io" and protocol != "v2.channel.k8s.io":
            want.add("resize")
        streams = {}
        deadline = time.monotonic() + STREAM_TIMEOUT
        while not want <= set(streams):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timed out waiting for the client's streams ({sorted(want - set(streams))})")
            try:
                s = await asyncio.wait_for(arrived.get(), left)
            except asyncio.TimeoutError:
                continue
            streams[s.headers.get("streamtype", "")] = s
        return cls(streams, params, protocol)

    async def stdout(self, data: bytes) -> None:
        s = self.streams.get("stdout")
        if s is not None:
            await s.write(data)

    async def stderr(self, data: bytes) -> None:
        s = self.streams.get("stderr") or (self.streams.get("stdout") if self.params["tty"] else None)
        if s is not None:
            await s.write(data)

    async def close_output(self) -> None:
        for k in ("stdout", "stderr"):
            if k in self.streams:
                self.streams[k].close()

    async def stdin(self):
        s = self.streams.get("stdin")
        if s is None:
            return
        while True:
            data = await s.read()
            if not data:
                return
            yield data

    async def resizes(self):
        s = self.streams.get("resize")
        if s is None:
            return
        # a stream of JSON objects ({"Width":..,"Height":..}), one after another
        dec, text = json.JSONDecoder(), ""
        while data := await s.read():
            text += data.decode(errors="replace")
            pos = 0
            while True:
                while pos < len(text) and text[pos].isspace():
                    pos += 1
                try:
                    obj, pos = dec.raw_decode(text, pos)
                except ValueError:
                    break
                if isinstance(obj, dict):
                    yield int(obj.get("Width", 0)), int(obj.get("Height", 0))
            text = text[pos:]

    def gone(self):
        return self.conn.closed

    async def finish(self, message: bytes) -> None:
        """Output closed, then the outcome on the error stream: v4 writes a
        Status (success too), older protocols the error text only."""
        await self.close_output()
        err = self.streams.get("error")
        if err is not None:
            if self.protocol == "v4.channel.k8s.io":
                await err.write(message)
            elif message != status(0):
                await err.write(json.loads(message).get("message", "").encode())
            err.close()
        await self.conn.drain()


class WsChannels:
    """A remotecommand session over WebSocket: channel 0 stdin, 1 stdout,
    2 stderr, 3 error, 4 resize; v5 adds 255 (close a channel)."""

    def __init__(self, ws, params: dict, protocol: str):
        self.ws = ws
        self.params = params
        self.protocol = protocol
        self.stdin_q = asyncio.Queue()
        self.resize_q = asyncio.Queue()
        self.closed = asyncio.get_running_loop().create_future()
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while True:
            msg = await self.ws.recv()
            if msg is None:
                break
            if not msg:
                continue
            if msg[0] == 0:
                if len(msg) > 1:
                    self.stdin_q.put_nowait(msg[1:])
            elif msg[0] == 4:
                try:
                    obj = json.loads(msg[1:])
                    self.resize_q.put_nowait((int(obj.get("Width", 0)), int(obj.get("Height", 0))))
                except (ValueError, AttributeError):
                    pass
            elif msg[0] == 255 and msg[1:2] == b"\x00":
                self.stdin_q.put_nowait(b"")
        self.stdin_q.put_nowait(b"")
        self.resize_q.put_nowait(None)
        if not self.closed.done():
            self.closed.set_result(None)

    async def stdout(self, data: bytes) -> None:
        await self.ws.send(b"\x01" + data)

    async def stderr(self, data: bytes) -> None:
        await self.ws.send((b"\x01" if self.params["tty"] else b"\x02") + data)

    async def close_output(self) -> None:
        if self.protocol == "v5.channel.k8s.io":
            for c in (1, 2):
                await self.ws.send(bytes([255, c]))

    async def stdin(self):
        if not self.params["stdin"]:
            return
        while True:
            data = await self.stdin_q.get()
            if not data:
                return
            yield data

    async def resizes(self):
        while True:
            item = await self.resize_q.get()
            if item is None:
                return
            yield item

    def gone(self):
        return self.closed

    async def finish(self, message: bytes) -> None:
        await self.close_output()
        if self.protocol in ("v4.channel.k8s.io", "v5.channel.k8s.io"):
            await self.ws.send(b"\x03" + message)
        elif message != status(0):
            await self.ws.send(b"\x03" + json.loads(message).get("message", "").encode())
        self.reader.cancel()


class StreamingService:
    """Exec, Attach and PortForward: checked, then a URL of the server."""

    def __init__(self, server: Server):
        self.server = server
        self.starting = None

    async def _started(self) -> None:
        if self.starting is None:
            self.starting = asyncio.get_running_loop().create_task(self.server.start())
        await asyncio.shield(self.starting)

    @staticmethod
    def _check(r) -> None:
        from busybox_engine.rpc.errors import InvalidArgument
        if not (r.stdin or r.stdout or r.stderr):
            raise InvalidArgument("one of stdin, stdout, or stderr must be set")
        if r.tty and r.stderr:
            raise InvalidArgument("tty and stderr cannot both be true")

    def _running(self, container_id: str) -> dict:
        from busybox_engine.rpc.errors import FailedPrecondition
        record = self.server.ctrs.get(container_id)
        if record["state"] != "running":
            raise FailedPrecondition(f"container {record['id']!r} is in {record['state']} state, not running")
        return record

    async def Exec(self, request):
        from busybox_engine.cri import cri_api_pb2 as pb
        from busybox_engine.rpc.errors import InvalidArgument
        record = self._running(request.container_id)
        if not request.cmd:
            raise InvalidArgument("cmd is required")
        self._check(request)
        await self._started()
        return pb.ExecResponse(url=self.server.url("exec", {
            "container_id": record["id"], "cmd": list(request.cmd), "tty": request.tty, "stdin": request.stdin,
            "stdout": request.stdout, "stderr": request.stderr}))

    async def Attach(self, request):
        from busybox_engine.cri import cri_api_pb2 as pb
        from busybox_engine.cri.pods import decode
        record = self._running(request.container_id)
        self._check(request)
        config = decode(pb.ContainerConfig, record["config"])
        await self._started()
        return pb.AttachResponse(url=self.server.url("attach", {
            "container_id": record["id"], "tty": config.tty, "stdin": request.stdin and config.stdin,
            "stdin_once": config.stdin_once, "stdout": request.stdout, "stderr": request.stderr}))

    async def PortForward(self, request):
        from busybox_engine.cri import cri_api_pb2 as pb
        from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument
        record = self.server.pods.get(request.pod_sandbox_id)
        if record["state"] != "ready":
            raise FailedPrecondition(f"sandbox {record['id']!r} is not ready")
        for p in request.port:
            if not 0 < p < 65536:
                raise InvalidArgument(f"invalid port {p}")
        await self._started()
        return pb.PortForwardResponse(url=self.server.url("portforward", {
            "sandbox_id": record["id"], "ports": list(request.port)}))
