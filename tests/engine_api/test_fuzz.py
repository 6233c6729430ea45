"""Bad requests by the thousand: each gets a 4xx with Docker's
{"message": ...}, never a 500, a hang or a dropped connection, and the
daemon's state (containers, images, volumes) is what it was."""
import json
import random
import socket

from busybox_engine.api.validate import CONFIG, HOST_CONFIG

WRONG = {"string": [1, True, [], {}, 2.5], "int": ["x", [], {}, True, "1e3"],
         "bool": ["yes", 1, [], {}], "list": ["x", 1, {}], "dict": ["x", 1, [1]],
         "strlist": [1, {}, [1, 2], [None], True]}


class Conn:
    """One keep-alive connection; a new one if the server closed it."""

    def __init__(self, path: str):
        self.path = path
        self.sock = None

    def request(self, method: str, target: str, body: bytes | None = None) -> tuple:
        if self.sock is None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(20)
            self.sock.connect(self.path)
        head = f"{method} {target} HTTP/1.1\r\nHost: docker\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + (body or b""))
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = self.sock.recv(65536)
            assert data, f"connection dropped on {method} {target} {body!r:.200}"
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            data = self.sock.recv(65536)
            assert data, "connection dropped in a body"
            rest += data
        if headers.get("connection", "").lower() == "close":
            self.sock.close()
            self.sock = None
        return status, rest[:length]


def bad_requests(rng: random.Random, victim: str):
    base = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {}}
    ids = ["no-such", "nope" * 20, "%2e%2e", "a b", "\u00e9", "0" * 64]
    for key, kind in list(CONFIG.items()) + [("HostConfig." + k, v) for k, v in HOST_CONFIG.items()]:
        for value in WRONG[kind]:
            body = json.loads(json.dumps(base))
            if key.startswith("HostConfig."):
                body["HostConfig"][key.split(".", 1)[1]] = value
            else:
                body[key] = value
            if key == "Image" and isinstance(value, bool):
                continue
            yield "POST", "/v1.41/containers/create", json.dumps(body).encode()
    for _ in range(400):
        text = json.dumps(dict(base, Cmd=["x" * rng.randrange(5)], Labels={"a": "b"}))
        cut = text[:rng.randrange(1, len(text) - 1)]
        junk = rng.choice([cut, cut + "\x00", "{" * rng.randrange(1, 50), "[" * 100000, "\xff\xfe",
                           "null", "[]", "42", '"str"', "{\"Image\": }", "{'Image': 'x'}"])
        yield "POST", "/v1.41/containers/create", junk.encode("utf-8", "surrogateescape")
    for name in ["bad/name", "-dash", "a", "sp%20ace", ".dot", "\u00e9", "x:y"]:
        yield "POST", f"/v1.41/containers/create?name={name}", json.dumps(base).encode()
    for image in ["UPPER", "a@@b", "", "no-such:tag", "x" * 300, "::", "busybox@sha256:bad"]:
        yield "POST", "/v1.41/containers/create", json.dumps(dict(base, Image=image)).encode()
    for cid in ids:
        for method, path in [("GET", "/json"), ("POST", "/start"), ("POST", "/stop"), ("POST", "/kill"),
                             ("POST", "/wait"), ("GET", "/logs?stdout=1"), ("DELETE", ""), ("POST", "/pause"),
                             ("POST", "/unpause"), ("POST", "/rename?name=xx"), ("GET", "/top"),
                             ("POST", "/exec"), ("GET", "/archive?path=/"), ("POST", "/resize?h=1&w=1")]:
            yield method, f"/v1.41/containers/{cid}{path}", b"{}" if method == "POST" else None
    for suffix, q in [("/stop", "t=abc"), ("/stop", "t=1e9"), ("/kill", "signal=FOO"), ("/kill", "signal=-1"),
                      ("/wait", "condition=never"), ("/rename", "name="), ("/rename", "name=bad/x"),
                      ("/rename", "name=victim"), ("/resize", "h=x&w=y"), ("/logs", "stdout=1&since=notatime"),
                      ("/logs", ""), ("/archive", "path="), ("/archive", "path=/no/such"), ("/attach", "detachKeys=ctrl-")]:
        for _ in range(3):
            method = "GET" if suffix in ("/logs", "/archive") else "POST"
            yield method, f"/v1.41/containers/{victim}{suffix}?{q}", None
    for body in [b"[]", b"{\"Cmd\": 5}", b"{\"Cmd\": []}", b"{\"Env\": {\"a\": 1}}", b"nope", b"{\"Tty\": \"x\"}"]:
        yield "POST", f"/v1.41/containers/{victim}/exec", body
    for body in [b"{\"Name\": 5}", b"{\"Name\": \"bad/name\"}", b"{\"Driver\": \"nfs-magic\"}",
                 b"{\"DriverOpts\": {\"bad\": \"x\"}}", b"{\"Labels\": []}", b"[1]", b"{"]:
        yield "POST", "/v1.41/volumes/create", body
    for name in ["no-such", "a", "x" * 200]:
        yield "GET", f"/v1.41/volumes/{name}", None
        yield "DELETE", f"/v1.41/volumes/{name}", None
        yield "GET", f"/v1.41/images/{name}/json", None
        yield "DELETE", f"/v1.41/images/{name}", None
        yield "POST", f"/v1.41/images/{name}/tag?repo=UPPER", None
        yield "GET", f"/v1.41/exec/{name}/json", None
        yield "POST", f"/v1.41/exec/{name}/start", b"{}"
    for path in ["/nope", "/v1.41/nope", "/v9.99/version", "/v0.1/version", "/v1.41/containers",
                 "/v1.41/images/busybox/tag?repo=", "/v1.41/images/json?filters={", "/v1.41/events?filters=[",
                 "/v1.41/containers/json?filters={\"bad\":[\"x\"]}", "/v1.41/containers/json?limit=x"]:
        yield "GET", path, None
    for method in ["PUT", "PATCH", "DELETE"]:
        yield method, "/v1.41/version", None


def state(conn: Conn) -> tuple:
    out = []
    for path in ["/v1.41/containers/json?all=1", "/v1.41/images/json", "/v1.41/volumes"]:
        status, body = conn.request("GET", path)
        assert status == 200
        doc = json.loads(body)
        if isinstance(doc, list):
            doc = sorted((x.get("Id"), x.get("State"), tuple(x.get("Names") or ()),
                          tuple(x.get("RepoTags") or ())) for x in doc)
        else:
            doc = sorted(v["Name"] for v in doc["Volumes"])
        out.append(doc)
    return tuple(out)


def test_a_thousand_bad_requests(dockerd):
    r = dockerd.docker("create", "--name", "victim", "busybox", "true")
    assert r.returncode == 0, r.stderr
    victim = r.stdout.strip()
    conn = Conn(str(dockerd.sock))
    before = state(conn)
    rng = random.Random(20261130)
    count = 0
    fails = []
    for method, target, body in bad_requests(rng, victim):
        status, resp = conn.request(method, target, body)
        count += 1
        if not 400 <= status < 500:
            fails.append((status, method, target, (body or b"")[:120], resp[:200]))
            continue
        if resp:
            assert isinstance(json.loads(resp).get("message"), str), resp
    assert count >= 1000, count
    assert fails == [], fails[:10]
    assert dockerd.proc.popen.poll() is None
    assert state(conn) == before
    assert dockerd.docker("rm", "victim").returncode == 0
