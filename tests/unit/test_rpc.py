"""msgpack-RPC: calls, errors both ways, notifications, bad input."""
import asyncio
import os
import socket
import stat
import threading

import msgpack
import pytest

from busybox_engine.rpc import errors
from busybox_engine.rpc.aclient import AsyncClient
from busybox_engine.rpc.client import Client
from busybox_engine.rpc.errors import InvalidArgument, NotFound, Unavailable
from busybox_engine.rpc.methods import Registry
from busybox_engine.rpc.server import Server


class Service:
    def echo(self, value: str) -> str:
        return value

    def add(self, a: int, b: int = 0) -> int:
        return a + b

    def maybe(self, value: str | None = None, items: list | None = None):
        return [value, items]

    async def sleep(self, seconds: float, tag: int) -> int:
        await asyncio.sleep(seconds)
        return tag

    def fail(self, code: str) -> None:
        raise errors.BY_CODE[code](f"failed with {code}")

    def crash(self) -> None:
        raise ZeroDivisionError("boom")

    def subscribe(self, count: int, *, _conn) -> int:
        for i in range(count):
            _conn.notify("events.test", {"n": i})
        return count

    def flood(self, count: int, size: int, *, _conn) -> int:
        """count droppable notifications of size bytes; how many went out."""
        return sum(_conn.notify("flood", {"data": b"x" * size}, droppable=True) for _ in range(count))

    def buffered(self, *, _conn) -> int:
        return _conn.transport.get_write_buffer_size()


class ServerThread:
    """A Server on its own loop in a thread, for the blocking client."""

    def __init__(self, path, max_message=None, **kw):
        self.path = path
        self.received = []
        registry = Registry()
        registry.add_service("svc", Service())
        registry.add("note", lambda text: self.received.append(text))
        if max_message:
            kw["max_message"] = max_message
        self.server = Server(registry, **kw)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(path), self.loop).result(5)

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def server(tmp_path):
    srv = ServerThread(str(tmp_path / "rpc.sock"))
    yield srv
    srv.stop()


def raw_connect(path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s


def read_reply(s: socket.socket):
    unpacker = msgpack.Unpacker(raw=False)
    while True:
        data = s.recv(65536)
        if not data:
            return None
        unpacker.feed(data)
        for msg in unpacker:
            return msg


def test_call_and_defaults(server):
    with Client(server.path) as c:
        assert c.call("svc.echo", {"value": "hi"}) == "hi"
        assert c.call("svc.add", a=2, b=3) == 5
        assert c.call("svc.add", a=2) == 2
        assert c.call("svc.maybe") == [None, None]


def test_socket_mode_is_0600(server):
    assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o600


@pytest.mark.parametrize("code", sorted(errors.BY_CODE))
def test_error_codes_map_to_exceptions(server, code):
    with Client(server.path) as c:
        with pytest.raises(errors.BY_CODE[code]) as info:
            c.call("svc.fail", code=code)
    assert info.value.code == code
    assert info.value.message == f"failed with {code}"


def test_error_wire_round_trip():
    for code, cls in errors.BY_CODE.items():
        e = errors.from_wire(cls("m").to_wire())
        assert type(e) is cls and e.message == "m"
    assert isinstance(errors.from_wire({"code": "nonsense", "message": "x"}), errors.Internal)
    assert isinstance(errors.from_wire("not a map"), errors.Internal)


def test_handler_exception_is_internal_and_server_survives(server):
    with Client(server.path) as c:
        with pytest.raises(errors.Internal, match="ZeroDivisionError: boom"):
            c.call("svc.crash")
        assert c.call("svc.echo", value="still here") == "still here"


@pytest.mark.parametrize("params,message", [
    ({"value": 3}, "parameter 'value' must be string"),
    ({"value": True}, "parameter 'value' must be string"),
    ({}, "missing parameter 'value'"),
    ({"value": "x", "other": 1}, "unknown parameter 'other'"),
])
def test_bad_params(server, params, message):
    with Client(server.path) as c:
        with pytest.raises(InvalidArgument, match=message):
            c.call("svc.echo", params)


def test_bool_is_not_an_int(server):
    with Client(server.path) as c:
        with pytest.raises(InvalidArgument, match="'a' must be integer"):
            c.call("svc.add", a=True)


def test_params_must_be_a_map(server):
    s = raw_connect(server.path)
    s.sendall(msgpack.packb([0, 7, "svc.echo", ["positional"]]))
    reply = read_reply(s)
    assert reply[0:2] == [1, 7]
    assert reply[2]["code"] == "invalid_argument"
    assert "params must be a map" in reply[2]["message"]
    s.close()


def test_unknown_method(server):
    with Client(server.path) as c:
        with pytest.raises(NotFound, match="unknown method 'svc.nope'"):
            c.call("svc.nope")
        s = raw_connect(server.path)
        s.sendall(msgpack.packb([0, 1, 42, {}]))  # method name not a string
        assert read_reply(s)[2]["code"] == "not_found"
        s.close()


@pytest.mark.parametrize("garbage", [
    b"\xc1",                                   # never-used msgpack byte
    msgpack.packb({"not": "an array"}),
    msgpack.packb([9]),
    msgpack.packb([0, "id-not-int", "svc.echo", {}]),
    msgpack.packb(12345),
])
def test_malformed_frame_closes_only_that_connection(server, garbage):
    s = raw_connect(server.path)
    s.sendall(garbage)
    assert read_reply(s) is None  # closed, no reply
    s.close()
    with Client(server.path) as c:
        assert c.call("svc.echo", value="alive") == "alive"


def test_unexpected_message_type_with_id_gets_reply(server):
    s = raw_connect(server.path)
    s.sendall(msgpack.packb([1, 5, None, "a response sent to a server"]))
    reply = read_reply(s)
    assert reply[1] == 5 and reply[2]["code"] == "invalid_argument"
    s.close()


def test_oversized_message_is_refused(tmp_path):
    srv = ServerThread(str(tmp_path / "small.sock"), max_message=1024)
    try:
        s = raw_connect(srv.path)
        s.sendall(msgpack.packb([0, 1, "svc.echo", {"value": "x" * 5000}]))
        assert read_reply(s) is None
        s.close()
        # a large message announced but never completed is refused too
        s = raw_connect(srv.path)
        s.sendall(b"\xdb\xff\xff\xff\xff" + b"x" * 8192)  # str32 of 4 GiB
        assert read_reply(s) is None
        s.close()
        with Client(srv.path) as c:
            assert c.call("svc.echo", value="small") == "small"
    finally:
        srv.stop()


def test_notifications_both_ways(server):
    with Client(server.path) as c:
        assert c.call("svc.subscribe", count=3) == 3
        got = [c.next_notification() for _ in range(3)]
        assert got == [("events.test", {"n": i}) for i in range(3)]
        c.notify("note", {"text": "hello"})
        assert c.call("svc.echo", value="sync") == "sync"  # ordered after the note
    assert server.received == ["hello"]


def test_pipelined_requests_on_one_connection(server):
    with Client(server.path) as c:
        ids = [c.send("svc.add", {"a": i, "b": 1}) for i in range(2000)]
        assert [c.wait(i) for i in ids] == [i + 1 for i in range(2000)]


def test_many_in_flight_complete_out_of_order(server):
    async def go():
        client = await AsyncClient.connect(server.path)
        async with client:
            futs = [client.call("svc.sleep", seconds=0.2 - i * 0.01, tag=i) for i in range(20)]
            started = asyncio.get_running_loop().time()
            results = await asyncio.gather(*futs)
            elapsed = asyncio.get_running_loop().time() - started
        return results, elapsed
    results, elapsed = asyncio.run(go())
    assert results == list(range(20))
    assert elapsed < 1.0  # they ran concurrently, not 20 x 0.1 s


def test_async_client_notifications_and_errors(server):
    async def go():
        got = []
        client = await AsyncClient.connect(server.path, on_notification=lambda m, p: got.append(p["n"]))
        async with client:
            assert await client.call("svc.subscribe", count=2) == 2
            with pytest.raises(InvalidArgument):
                await client.call("svc.add", a="x")
        return got
    assert asyncio.run(go()) == [0, 1]


def test_server_down_is_unavailable_naming_the_socket(tmp_path):
    path = str(tmp_path / "nobody.sock")
    with pytest.raises(Unavailable, match=f"unix://{path}"):
        Client(path)

    async def go():
        await AsyncClient.connect(path)
    with pytest.raises(Unavailable, match=f"unix://{path}"):
        asyncio.run(go())


def test_server_going_away_fails_pending_calls(tmp_path):
    srv = ServerThread(str(tmp_path / "gone.sock"))
    path = srv.path

    async def go():
        client = await AsyncClient.connect(path)
        fut = client.call_soon("svc.sleep", {"seconds": 10.0, "tag": 1})
        await asyncio.sleep(0.1)
        await asyncio.get_running_loop().run_in_executor(None, srv.stop)
        with pytest.raises(Unavailable, match="connection closed"):
            await fut
    asyncio.run(go())
    assert not os.path.exists(path)


def test_registry_rejects_duplicates_and_varargs():
    r = Registry()
    r.add("a", lambda: 1)
    with pytest.raises(ValueError):
        r.add("a", lambda: 2)
    with pytest.raises(TypeError):
        r.add("b", lambda **kw: kw)


def test_incomplete_messages_are_bounded_over_all_clients(tmp_path):
    """Clients that each send most of a big message and stop: past the
    total the server holds for them, the one adding more is dropped (they
    took containerd from 41 to 356 MB before)."""
    srv = ServerThread(str(tmp_path / "p.sock"), max_message=1 << 20, max_pending=2 << 20)
    socks = []
    try:
        head = msgpack.packb([0, 1, "svc.echo", {"value": "x" * (1 << 20)}])[:900 << 10]
        for _ in range(4):
            s = raw_connect(srv.path)
            try:
                s.sendall(head)
            except BrokenPipeError:
                pass  # dropped while it sent
            socks.append(s)
        import time
        time.sleep(0.3)
        alive = []
        for s in socks:
            s.settimeout(0.2)
            try:
                alive.append(s.recv(1) != b"")
            except socket.timeout:
                alive.append(True)
            except ConnectionResetError:
                alive.append(False)
        assert alive == [True, True, False, False]
        assert srv.server.pending <= 2 << 20
        with Client(srv.path) as c:
            assert c.call("svc.echo", value="still here") == "still here"
    finally:
        for s in socks:
            s.close()
        srv.stop()


def test_a_message_that_never_completes_times_out(tmp_path):
    srv = ServerThread(str(tmp_path / "t.sock"), partial_timeout=0.3)
    try:
        s = raw_connect(srv.path)
        s.sendall(msgpack.packb([0, 1, "svc.echo", {"value": "x" * 1000}])[:500])
        s.settimeout(5)
        assert s.recv(1) == b""  # dropped
        assert srv.server.pending == 0
        # a slow but steady client is not: each message gets its own time
        with Client(srv.path) as c:
            assert c.call("svc.echo", value="fine") == "fine"
        s.close()
    finally:
        srv.stop()


def test_droppable_notifications_to_a_reader_that_does_not_read(tmp_path):
    srv = ServerThread(str(tmp_path / "d.sock"), max_buffered=1 << 20)
    try:
        with Client(srv.path) as stalled, Client(srv.path) as c:
            stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sent = stalled.call("svc.flood", count=200, size=64 << 10)
            # what could not go out was dropped, not kept: the buffer stays bounded
            assert 0 < sent < 200
            assert stalled.call("svc.buffered") <= (1 << 20) + (64 << 10) + 1024
            assert c.call("svc.echo", value="others fine") == "others fine"
    finally:
        srv.stop()


def test_events_tell_a_slow_subscriber_what_it_missed():
    from busybox_engine.containerd.services.events import Events

    class Conn:
        def __init__(self):
            self.got, self.full = [], False
            import concurrent.futures
            self.closed = concurrent.futures.Future()

        def notify(self, method, params, droppable=False):
            if self.full and droppable:
                return False
            self.got.append((method, params))
            return True
    events = Events()
    conn = Conn()
    events.subscribe(_conn=conn)
    events.publish("default", "/a", {})
    conn.full = True
    for i in range(5):
        events.publish("default", f"/lost{i}", {})
    conn.full = False
    events.publish("default", "/b", {})
    assert [(m, p.get("topic", p.get("dropped"))) for m, p in conn.got] == [
        ("event", "/a"), ("events.dropped", 5), ("event", "/b")]
