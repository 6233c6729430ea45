#!/usr/bin/env python3
"""msgpack-RPC throughput on one connection: sequential and pipelined.

    python benchmarks/rpc.py [--bindir DIR] [-n 20000]

The server is the compiled containerd (its `version` method) from DIR
(busybox-engine --install DIR; without it dist/busybox-engine is installed
into a temporary directory); the clients are ours, run from source.
"""
import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from busybox_engine.rpc.aclient import AsyncClient  # noqa: E402
from busybox_engine.rpc.client import Client  # noqa: E402
from common import wait_socket  # noqa: E402


def sequential(path: str, n: int) -> float:
    with Client(path) as c:
        t0 = time.perf_counter()
        for _ in range(n):
            c.call("version")
        return n / (time.perf_counter() - t0)


def pipelined_blocking(path: str, n: int, window: int = 1000) -> float:
    with Client(path) as c:
        t0 = time.perf_counter()
        done = 0
        while done < n:
            ids = [c.send("version") for _ in range(min(window, n - done))]
            for i in ids:
                c.wait(i)
            done += len(ids)
        return n / (time.perf_counter() - t0)


def pipelined_async(path: str, n: int, window: int = 1000) -> float:
    async def go():
        client = await AsyncClient.connect(path)
        async with client:
            t0 = time.perf_counter()
            done = 0
            while done < n:
                futs = [client.call_soon("version") for _ in range(min(window, n - done))]
                await asyncio.gather(*futs)
                done += len(futs)
            return n / (time.perf_counter() - t0)
    try:
        import uvloop
        return uvloop.run(go())
    except ImportError:
        return asyncio.run(go())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bindir")
    p.add_argument("-n", type=int, default=20000)
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="bbe-rpc-")
    bindir = args.bindir
    proc = None
    try:
        if bindir is None:
            bindir = os.path.join(tmp, "bin")
            subprocess.run([os.path.join(TOP, "dist", "busybox-engine"), "--install", bindir], check=True)
        path = os.path.join(tmp, "containerd.sock")
        proc = subprocess.Popen([os.path.join(bindir, "containerd"), "--address", path,
                                 "--root", os.path.join(tmp, "root"), "--state", os.path.join(tmp, "state")],
                                stderr=subprocess.PIPE)
        wait_socket(path, 10, proc)
        print(f"msgpack-RPC `version` calls to the compiled containerd, one connection, n={args.n}")
        print(f"  sequential (blocking client)           {sequential(path, args.n):10,.0f} calls/s")
        print(f"  pipelined, window 1000 (blocking)      {pipelined_blocking(path, args.n):10,.0f} calls/s")
        print(f"  pipelined, window 1000 (async client)  {pipelined_async(path, args.n):10,.0f} calls/s")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
