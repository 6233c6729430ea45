"""Which gRPC stack the CRI endpoint should use: grpcio (its C core on its
own poller) or grpclib + h2 on our uvloop loop, both with protobuf's upb
messages generated from busybox_engine/cri/proto/api.proto.

For each, a server process that serves RuntimeService.Version on a unix
socket; printed side by side: the bytes the stack adds to the single file
(raw and zstd-compressed, as the onefile stores it), the server's import
time and memory beside a bare uvloop server, and a call's latency (one
grpcio client for both, and `crictl version` end to end).

    python benchmarks/grpc_libs.py [-n CALLS] [--crictl PATH]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import TOP, memory, wait_socket

SERVER = r'''
import asyncio, os, sys, time
sys.path.insert(0, sys.argv[3])
kind, sock = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
import uvloop
if kind == "none":
    async def main():
        server = await asyncio.get_running_loop().create_unix_server(asyncio.Protocol, sock)
        print(f"ready {(time.perf_counter() - t0) * 1e3:.1f}", flush=True)
        await asyncio.Event().wait()
    uvloop.run(main())
elif kind == "grpclib":
    from grpclib.server import Server
    import cri_api_pb2 as api_pb2, cri_api_grpc as api_grpc
    class Runtime(api_grpc.RuntimeServiceBase):
        async def Version(self, stream):
            await stream.recv_message()
            await stream.send_message(api_pb2.VersionResponse(
                version="0.1.0", runtime_name="bench", runtime_version="1", runtime_api_version="v1"))
    for name in api_grpc.RuntimeServiceBase.__abstractmethods__ - {"Version"}:
        setattr(Runtime, name, None)
    Runtime.__abstractmethods__ = frozenset()
    async def main():
        server = Server([Runtime()])
        await server.start(path=sock)
        print(f"ready {(time.perf_counter() - t0) * 1e3:.1f}", flush=True)
        await server.wait_closed()
    uvloop.run(main())
else:
    import grpc
    import cri_api_pb2 as api_pb2, cri_api_pb2_grpc as api_pb2_grpc
    class Runtime(api_pb2_grpc.RuntimeServiceServicer):
        async def Version(self, request, context):
            return api_pb2.VersionResponse(
                version="0.1.0", runtime_name="bench", runtime_version="1", runtime_api_version="v1")
    async def main():
        server = grpc.aio.server()
        api_pb2_grpc.add_RuntimeServiceServicer_to_server(Runtime(), server)
        server.add_insecure_port("unix:" + sock)
        await server.start()
        print(f"ready {(time.perf_counter() - t0) * 1e3:.1f}", flush=True)
        await server.wait_for_termination()
    asyncio.run(main())
'''

# what each stack brings into the single file: top-level packages
STACKS = {"grpcio": ["grpc", "google/protobuf"],
          "grpclib": ["grpclib", "h2", "hpack", "hyperframe", "multidict", "google/protobuf"]}


def package_bytes(names: list) -> tuple:
    import site
    import zstandard
    raw = packed = 0
    comp = zstandard.ZstdCompressor(level=19)
    for name in names:
        for base in site.getsitepackages():
            top = os.path.join(base, name)
            if not os.path.isdir(top):
                continue
            for d, _, files in os.walk(top):
                for f in files:
                    if f.endswith((".py", ".so")) and "__pycache__" not in d:
                        with open(os.path.join(d, f), "rb") as fh:
                            data = fh.read()
                        raw += len(data)
                        packed += len(comp.compress(data))
            break
    return raw / 1e6, packed / 1e6


def generate(out: str) -> None:
    proto = os.path.join(TOP, "busybox_engine", "cri", "proto")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", proto, f"--python_out={out}",
                    f"--grpclib_python_out={out}", f"--grpc_python_out={out}",
                    os.path.join(proto, "cri_api.proto")], check=True)


def measure(kind: str, tmp: str, gen: str, calls: int, crictl: str) -> dict:
    sock = os.path.join(tmp, f"{kind}.sock")
    proc = subprocess.Popen([sys.executable, "-c", SERVER, kind, sock, gen], stdout=subprocess.PIPE, text=True)
    try:
        ready = proc.stdout.readline().split()
        wait_socket(sock, proc=proc)
        out = {"start_ms": float(ready[1])}
        if kind != "none":
            import grpc
            sys.path.insert(0, gen)
            import cri_api_pb2 as api_pb2
            channel = grpc.insecure_channel("unix:" + sock)
            call = channel.unary_unary("/runtime.v1.RuntimeService/Version",
                                       request_serializer=api_pb2.VersionRequest.SerializeToString,
                                       response_deserializer=api_pb2.VersionResponse.FromString)
            call(api_pb2.VersionRequest(version="v1"))
            times = []
            for _ in range(calls):
                t = time.perf_counter()
                call(api_pb2.VersionRequest(version="v1"))
                times.append((time.perf_counter() - t) * 1e3)
            channel.close()
            out["call_ms"] = statistics.median(times)
            if crictl:
                times = []
                for _ in range(max(5, calls // 50)):
                    t = time.perf_counter()
                    subprocess.run([crictl, "--runtime-endpoint", "unix://" + sock, "version"],
                                   check=True, stdout=subprocess.DEVNULL)
                    times.append((time.perf_counter() - t) * 1e3)
                out["crictl_ms"] = statistics.median(times)
        time.sleep(0.3)
        out["rss"], out["pss"] = memory([proc.pid])
        return out
    finally:
        proc.terminate()
        proc.wait()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=500, help="Version calls per stack")
    p.add_argument("--crictl", default="", help="a crictl binary for end-to-end calls")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gen = os.path.join(tmp, "gen")
        os.makedirs(gen)
        generate(gen)
        base = measure("none", tmp, gen, args.n, "")
        print(f"bare uvloop unix server: start {base['start_ms']:.1f} ms, RSS {base['rss']:.1f} MB, "
              f"PSS {base['pss']:.1f} MB")
        print(f"{'stack':<10}{'file +MB (zstd)':>18}{'import+start ms':>17}{'+RSS MB':>9}{'+PSS MB':>9}"
              f"{'call ms':>9}{'crictl ms':>11}")
        for kind, pkgs in STACKS.items():
            raw, packed = package_bytes(pkgs)
            m = measure(kind, tmp, gen, args.n, args.crictl)
            crictl = f"{m['crictl_ms']:.1f}" if "crictl_ms" in m else "-"
            print(f"{kind:<10}{raw:>9.1f} ({packed:.1f}){m['start_ms']:>17.1f}{m['rss'] - base['rss']:>9.1f}"
                  f"{m['pss'] - base['pss']:>9.1f}{m['call_ms']:>9.3f}{crictl:>11}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
