"""An overlayfs snapshotter.

Vocabulary as containerd's: a committed snapshot is one unpacked layer on
top of its parent, named by the ChainID of the layers up to it; an active
snapshot (a key) is a writable upper and work directory on top of a
committed chain, mounted as a container's rootfs. An active snapshot's
directory is named by a digest of its key, so no two keys share one, and
its meta.json holds the key itself.
"""
import hashlib
import json
import os
import shutil

from busybox_engine.rpc.errors import AlreadyExists, NotFound
from busybox_engine.util.atomicfile import atomic_write


def chain_ids(diff_ids: list) -> list:
    out = []
    for d in diff_ids:
        out.append(d if not out else "sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


class Snapshotter:
    def __init__(self, root: str):
        self.root = root
        self.committed = os.path.join(root, "committed")
        self.active = os.path.join(root, "active")
        self.tmp = os.path.join(root, "tmp")
        for d in (self.committed, self.active, self.tmp):
            os.makedirs(d, mode=0o700, exist_ok=True)
        for stale in os.listdir(self.tmp):  # half-unpacked by a crash
            shutil.rmtree(os.path.join(self.tmp, stale), ignore_errors=True)

    def _dir(self, chain_id: str) -> str:
        # short names keep a deep chain's lowerdir option within a page
        # (16 hex digits a layer: 200+ layers); meta.json has the full id
        return os.path.join(self.committed, chain_id.split(":", 1)[1][:16])

    def has(self, chain_id: str) -> bool:
        try:
            with open(os.path.join(self._dir(chain_id), "meta.json")) as f:
                return json.load(f)["chain_id"] == chain_id
        except (OSError, ValueError, KeyError):
            return False

    def commit_layer(self, chain_id: str, parent: str | None, fill) -> None:
        """Unpack a layer (fill(fs_dir)) and commit it under its ChainID,
        atomically: a crash leaves nothing under the final name."""
        if self.has(chain_id):
            return
        work = os.path.join(self.tmp, f"{os.getpid()}-{os.urandom(4).hex()}")
        os.makedirs(os.path.join(work, "fs"))
        try:
            fill(os.path.join(work, "fs"))
            with open(os.path.join(work, "meta.json"), "w") as f:
                json.dump({"chain_id": chain_id, "parent": parent}, f)
            try:
                os.rename(work, self._dir(chain_id))
            except OSError:
                if not self.has(chain_id):
                    raise
                shutil.rmtree(work, ignore_errors=True)  # a concurrent pull committed it first
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise

    def lowers(self, chain_id: str) -> list:
        """The fs directories of a chain, topmost first."""
        out = []
        while chain_id:
            d = self._dir(chain_id)
            try:
                with open(os.path.join(d, "meta.json")) as f:
                    meta = json.load(f)
            except FileNotFoundError:
                raise NotFound(f"snapshot {chain_id} not found") from None
            out.append(os.path.join(d, "fs"))
            chain_id = meta.get("parent")
        return out

    def _active_dir(self, key: str) -> str:
        return os.path.join(self.active, hashlib.sha256(key.encode()).hexdigest()[:32])

    def prepare(self, key: str, parent: str) -> str:
        """A new writable snapshot over the committed chain `parent`; a key
        that exists already is refused, never shared."""
        d = self._active_dir(key)
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            raise AlreadyExists(f"snapshot {key!r}: already exists") from None
        try:
            os.mkdir(os.path.join(d, "fs"), 0o755)
            os.mkdir(os.path.join(d, "work"), 0o700)
            # last: a directory without it is a prepare cut off (see active_snapshots)
            atomic_write(os.path.join(d, "meta.json"), json.dumps({"key": key, "parent": parent}))
        except BaseException:
            shutil.rmtree(d, ignore_errors=True)
            raise
        return d

    def active_snapshots(self) -> dict:
        """{key: parent} of every active snapshot; half-prepared ones (a
        crash in prepare) are removed."""
        out = {}
        for name in os.listdir(self.active):
            d = os.path.join(self.active, name)
            try:
                with open(os.path.join(d, "meta.json")) as f:
                    meta = json.load(f)
                out[meta["key"]] = meta["parent"]
            except FileNotFoundError:
                shutil.rmtree(d, ignore_errors=True)
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return out

    def parent_chain(self, chain_id: str) -> str | None:
        """The committed snapshot under chain_id (None at the bottom)."""
        with open(os.path.join(self._dir(chain_id), "meta.json")) as f:
            return json.load(f).get("parent")

    def _parent(self, key: str) -> str:
        try:
            with open(os.path.join(self._active_dir(key), "meta.json")) as f:
                return json.load(f)["parent"]
        except FileNotFoundError:
            raise NotFound(f"snapshot {key!r} not found") from None

    def layers(self, key: str) -> tuple:
        """(upper, lowers topmost first) of an active snapshot: what its
        container changed, over what."""
        parent = self._parent(key)
        return os.path.join(self._active_dir(key), "fs"), self.lowers(parent)

    def mount(self, key: str, target: str) -> None:
        from busybox_engine.core_pyx import mounts
        d = self._active_dir(key)
        lowers = self.lowers(self._parent(key))
        os.makedirs(target, exist_ok=True)
        if not lowers:   # over no image (FROM scratch): its own directory
            mounts.mount(os.path.join(d, "fs"), target, "", mounts.MS_BIND, None)
            return
        # short relative lowerdirs keep many layers within the one-page
        # limit of mount options: they resolve from our cwd, the committed dir
        cwd = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.chdir(self.committed)
            rel = [os.path.relpath(x, self.committed) for x in lowers]
            options = (f"lowerdir={':'.join(rel)},upperdir={os.path.join(d, 'fs')},"
                       f"workdir={os.path.join(d, 'work')}")
            mounts.mount("overlay", target, "overlay", 0, options)
        finally:
            os.fchdir(cwd)
            os.close(cwd)

    def unmount(self, target: str) -> None:
        from busybox_engine.core_pyx import mounts
        try:
            mounts.umount2(target, mounts.MNT_DETACH)
        except OSError as e:
            if e.errno not in (22, 2):  # not mounted, or gone
                raise

    def remove(self, key: str) -> None:
        shutil.rmtree(self._active_dir(key), ignore_errors=True)

    def remove_committed(self, chain_id: str) -> None:
        shutil.rmtree(self._dir(chain_id), ignore_errors=True)
