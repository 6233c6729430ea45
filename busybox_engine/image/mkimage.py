"""Images made offline, with no registry: a busybox rootfs from the host's
busybox-static, and docker-archives (what `docker save` writes) of layers.

    python -m busybox_engine.image.mkimage [--busybox PATH] [--tag NAME:TAG] OUT.tar
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

from busybox_engine.oci.defaults import PATH_ENV

BUSYBOX = "/bin/busybox"


def busybox_rootfs(path: str, busybox: str = BUSYBOX) -> str:
    """A minimal rootfs: busybox and a link per applet, /etc/passwd, group."""
    os.makedirs(path)
    for d in ("bin", "proc", "sys", "dev", "tmp", "etc", "root", "sbin", "usr/bin"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    shutil.copy2(busybox, os.path.join(path, "bin", "busybox"))
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", os.path.join(path, "bin", a))
    with open(os.path.join(path, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(path, "etc", "group"), "w") as f:
        f.write("root:x:0:\ntty:x:5:\nnogroup:x:65534:\n")
    os.chmod(os.path.join(path, "tmp"), 0o1777)
    return path


def layer_tar(rootfs: str) -> bytes:
    """An uncompressed layer of a directory's contents."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(rootfs)):
            tar.add(os.path.join(rootfs, name), arcname=name)
    return buf.getvalue()


def docker_archive(out: str, layers: list, tag: str, cmd=("sh",), env=(PATH_ENV,),
                   diff_ids: list | None = None, layer_names: list | None = None) -> str:
    """Write a docker-archive of raw layer tars (bytes, bottom first).
    diff_ids and layer_names override the honest ones (to make broken images)."""
    real = [f"sha256:{hashlib.sha256(layer).hexdigest()}" for layer in layers]
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Cmd": list(cmd), "Env": list(env)},
              "rootfs": {"type": "layers", "diff_ids": diff_ids or real},
              "history": [{"created_by": "busybox-engine mkimage"} for _ in layers]}
    raw = json.dumps(config).encode()
    config_name = hashlib.sha256(raw).hexdigest() + ".json"
    names = layer_names or [f"{d.split(':')[1]}/layer.tar" for d in real]
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": names}]
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w") as tar:
        for name, data in [(config_name, raw), *zip(names, layers),
                           ("manifest.json", json.dumps(manifest).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, out)
    return out


def main(argv: list) -> int:
    import argparse
    import tempfile
    p = argparse.ArgumentParser(prog="mkimage", description="a busybox image from busybox-static")
    p.add_argument("--busybox", default=BUSYBOX)
    p.add_argument("--tag", "-t", default="busybox:latest")
    p.add_argument("out")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        layer = layer_tar(busybox_rootfs(os.path.join(tmp, "rootfs"), a.busybox))
    docker_archive(a.out, [layer], a.tag)
    print(f"{a.out}: {a.tag}, one layer of {len(layer)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
