"""The garbage collector and what is in use: blobs and snapshots a pull,
an import or a container needs are never collected under it."""
import os
import subprocess
import threading

from tests.fixtures.flakyproxy import FlakyProxy
from tests.fixtures.images import docker_archive, layer_tar, tar_layer
from tests.fixtures.registry import RegistryServer
from tests.supervisor.test_isolation import image_spec


def ctr(containerd, *args):
    return subprocess.run(containerd.engine.argv("ctr", "-a", str(containerd.sock), *args),
                          env=containerd.engine.env, capture_output=True, text=True, timeout=120)


def test_images_rm_and_container_deletes_while_three_pulls_run(containerd, rootfs_template, tmp_path):
    reg = RegistryServer(tmp_path / "registry").start()
    host, port = reg.address.split(":")
    slow = FlakyProxy((host, int(port)), rate=2 << 20).start()  # each pull takes a few seconds
    try:
        base = layer_tar(rootfs_template)
        sizes = {}
        for i in range(3):
            layers = [tar_layer([(f"d{j}", "file", os.urandom(3 << 20))]) for j in range(3)]
            reg.put_image(f"img{i}", "1", [base] + layers)
            sizes[i] = 3 << 20
        c = containerd.start()
        victim = docker_archive(rootfs_template, str(tmp_path / "victim.tar"), tag="victim:1")
        errors, done = [], []

        def pull(i: int) -> None:
            try:
                with containerd.client() as pc:
                    pc.call("images.pull", name=f"{slow.address}/img{i}:1", plain_http=True)
                done.append(i)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append((i, e))
        threads = [threading.Thread(target=pull, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        rounds = 0
        while any(t.is_alive() for t in threads):
            # an image and a container come and go; each removal collects
            c.call("images.import", path=victim)
            c.call("containers.create", id=f"v{rounds}", spec=image_spec("default", f"v{rounds}", ["true"]),
                   image="victim:1")
            c.call("images.delete", name="victim:1")
            c.call("containers.delete", id=f"v{rounds}")
            c.call("gc.run")
            rounds += 1
        for t in threads:
            t.join()
        assert errors == [] and sorted(done) == [0, 1, 2]
        assert rounds >= 3, "the pulls were over before the collections ran"
        for i in range(3):
            r = ctr(containerd, "run", "--rm", f"{slow.address}/img{i}:1", f"r{i}", "sh", "-c",
                    "cat /d0 /d1 /d2 | wc -c")
            assert (r.returncode, r.stdout.strip()) == (0, str(3 * sizes[i])), r.stderr
        # and what nothing needs any more goes
        for i in range(3):
            c.call("images.delete", name=f"{slow.address}/img{i}:1")
        c.call("gc.run")
        assert c.call("content.list") == [] and c.call("snapshots.list") == []
    finally:
        slow.stop()
        reg.stop()
