#!/usr/bin/env python3
"""Build dist/busybox-engine: Cython for core_pyx, then Nuitka onefile.

    python3 build.py [--no-deps] [--jobs N]

On a fresh machine it installs what it needs first (pip: Cython, Nuitka,
msgpack, uvloop, zstandard, isal, httptools, grpclib, protobuf, grpcio-tools; apt-get: patchelf, ccache). The onefile carries
the standalone build that `busybox-engine --install DIR` unpacks.
"""
import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import time

TOP = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(TOP, "busybox_engine")
BUILD = os.path.join(TOP, "build")
DIST = os.path.join(TOP, "dist")
PIP_DEPS = ["Cython>=3.0", "Nuitka==4.3.3", "msgpack>=1.0", "uvloop>=0.19", "zstandard", "isal",
            "httptools>=0.6",
            # the CRI endpoint (chosen by benchmarks/grpc_libs.py: a seventh of
            # grpcio's size and half its memory); grpcio-tools only builds
            "grpclib>=0.4.7,<0.5", "protobuf>=6.31", "grpcio-tools>=1.73"]
APT_DEPS = {"patchelf": "patchelf", "ccache": "ccache", "strip": "binutils",
            "/usr/include/seccomp.h": "libseccomp-dev"}
# extra link arguments of core_pyx modules: libseccomp goes in statically
LINK = {"seccomp": ["/usr/lib/x86_64-linux-gnu/libseccomp.a"]}
BUILD_INFO = os.path.join(PKG, "_build_info.py")


def log(msg: str) -> None:
    print(f"build: {msg}", flush=True)


def run(cmd: list, **kw) -> None:
    log(" ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


def install_deps() -> None:
    missing = [pkg for tool, pkg in APT_DEPS.items()
               if not (os.path.exists(tool) if tool.startswith("/") else shutil.which(tool))]
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", *missing], env=env)
    run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--root-user-action=ignore", *PIP_DEPS])


def build_cython() -> list:
    """Compile core_pyx/*.pyx into extension modules next to their sources."""
    include = sysconfig.get_paths()["include"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    built = []
    # a .pxd (the shared errno mapping) changes every module that cimports it
    pxd_time = max([os.path.getmtime(p) for p in glob.glob(os.path.join(PKG, "core_pyx", "*.pxd"))] or [0])
    for pyx in sorted(glob.glob(os.path.join(PKG, "core_pyx", "*.pyx"))):
        base = pyx[:-4]
        so = base + suffix
        if os.path.exists(so) and os.path.getmtime(so) > max(os.path.getmtime(pyx), pxd_time):
            built.append(so)
            continue
        run([sys.executable, "-m", "cython", "-3", pyx, "-o", base + ".c"])
        run(["cc", "-shared", "-fPIC", "-O2", "-I", include, base + ".c", "-o", so,
             *LINK.get(os.path.basename(base), [])])
        built.append(so)
    return built


def source_digest() -> str:
    """The build id: a digest of the package's sources, so each build of
    different code unpacks into its own versioned directory."""
    h = hashlib.sha256()
    paths = glob.glob(os.path.join(PKG, "**", "*.py*"), recursive=True)
    paths += glob.glob(os.path.join(PKG, "**", "*.pxd"), recursive=True)
    for path in sorted(paths) + [os.path.abspath(__file__)]:  # how it is built counts too
        if path.endswith((".pyc",)) or "__pycache__" in path or path == BUILD_INFO:
            continue
        h.update(os.path.relpath(path, TOP).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:12]


def stage_stripped(modules: list) -> str:
    """Copies of third-party packages with their extensions' debug info
    stripped (uvloop's wheel carries 13 MB of it); Nuitka takes these."""
    stage = os.path.join(BUILD, "site")
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    for name in modules:
        mod = __import__(name)
        src = os.path.dirname(mod.__file__)
        dst = os.path.join(stage, name)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyx",
                                                                 "*.pxd", "*.c", "*.h"))
        for so in glob.glob(os.path.join(dst, "**", "*.so"), recursive=True):
            subprocess.run(["strip", "--strip-debug", so], check=True)
    return stage


# Nuitka's runtime imports `inspect` (and with it ast, dis, enum, re,
# tokenize...) at start-up to patch it for compiled functions: 15 ms of the
# 21 ms a compiled `runc --version` took. Our copy of Nuitka patches inspect
# when it is first imported instead (asyncio imports it before it needs it).
LAZY_INSPECT_PATCH = [
    ("build/static_src/MainProgram.c",
     "    patchInspectModule(tstate);\n",
     "    /* busybox-engine: patched lazily, when inspect is imported. */\n"),
    ("build/static_src/MetaPathBasedLoader.c",
     "    Nuitka_LoadTriggeredModule(tstate, entry != NULL ? entry->m_post_load : NULL);\n",
     "    Nuitka_LoadTriggeredModule(tstate, entry != NULL ? entry->m_post_load : NULL);\n"
     "    if (strcmp(name, \"inspect\") == 0) {\n"
     "        patchInspectModule(tstate);\n"
     "    }\n"),
]


def patched_nuitka() -> str:
    """A private copy of the installed Nuitka with LAZY_INSPECT_PATCH applied."""
    import nuitka
    src = os.path.dirname(nuitka.__file__)
    root = os.path.join(BUILD, "nuitka-lazy-inspect")
    dst = os.path.join(root, "nuitka")
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, old, new in LAZY_INSPECT_PATCH:
        path = os.path.join(dst, rel)
        with open(path) as f:
            text = f.read()
        if text.count(old) != 1:
            raise SystemExit(f"build: cannot patch {rel}: Nuitka changed; "
                             f"review LAZY_INSPECT_PATCH in build.py")
        with open(path, "w") as f:
            f.write(text.replace(old, new))
    return root


def build_proto() -> list:
    """busybox_engine/cri/proto/*.proto into *_pb2.py beside the package
    that uses them (protoc from grpcio-tools; messages only: the gRPC
    handlers are made from the descriptors at run time)."""
    src = os.path.join(PKG, "cri", "proto")
    out = os.path.join(PKG, "cri")
    built = []
    for proto in sorted(glob.glob(os.path.join(src, "*.proto"))):
        target = os.path.join(out, os.path.basename(proto)[:-len(".proto")] + "_pb2.py")
        if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(proto):
            run([sys.executable, "-m", "grpc_tools.protoc", f"-I{src}", f"--python_out={out}", proto])
        built.append(target)
    return built


def nuitka(jobs: int) -> str:
    out = os.path.join(BUILD, "nuitka")
    stage = stage_stripped(["uvloop", "msgpack", "httptools"])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([patched_nuitka(), stage, TOP]))
    cmd = [sys.executable, "-m", "nuitka", "--mode=onefile",
           f"--output-dir={out}", "--output-filename=busybox-engine",
           "--include-package=busybox_engine",
           "--include-module=uvloop", "--include-module=msgpack", "--include-package=isal",
           "--include-package=httptools",
           # protobuf loads its upb backend by name, not by an import Nuitka sees
           "--include-module=google._upb._message",
           # numpy: an optional import of protobuf (its containers take numpy scalars)
           "--nofollow-import-to=*.tests,unittest,pydoc,doctest,tkinter,test,numpy,google.protobuf.internal.message_benchmark",
           "--python-flag=-S", "--python-flag=-m", "--python-flag=no_docstrings",
           "--python-flag=no_asserts",
           "--static-libpython=yes", "--lto=no", f"--jobs={jobs}",
           # argv such as `runc exec ID sh -c ...` is ours, not a re-execution
           "--no-deployment-flag=self-execution",
           "--assume-yes-for-downloads", "--quiet", "--remove-output",
           PKG]
    run(cmd, env=env, cwd=TOP)
    return os.path.join(out, "busybox-engine")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-deps", action="store_true", help="do not install build dependencies")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = p.parse_args()
    start = time.monotonic()
    if not args.no_deps:
        install_deps()
    build_cython()
    build_proto()
    build_id = source_digest()
    with open(BUILD_INFO) as f:
        original = f.read()
    try:
        with open(BUILD_INFO, "w") as f:
            f.write("# Written by build.py for this build.\n"
                    f"BUILD_ID = {build_id!r}\n"
                    f"BUILD_TIME = {time.strftime('%a %b %d %H:%M:%S %Y', time.gmtime())!r}\n")
        binary = nuitka(args.jobs)
    finally:
        with open(BUILD_INFO, "w") as f:
            f.write(original)
    os.makedirs(DIST, exist_ok=True)
    target = os.path.join(DIST, "busybox-engine")
    shutil.copy2(binary, target + ".tmp")
    os.rename(target + ".tmp", target)
    log(f"{target}: build {build_id}, {os.path.getsize(target) / 1e6:.1f} MB, "
        f"{time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
