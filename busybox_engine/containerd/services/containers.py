"""containers.*: container records (a spec on a rootfs or an image snapshot)."""
import os

from busybox_engine.containerd.services.events import Events
from busybox_engine.containerd.store import Store, check_name
from busybox_engine.rpc.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from busybox_engine.util.timefmt import rfc3339nano


def snapshot_key(namespace: str, cid: str) -> str:
    """The key of a container's snapshot: `/` is in neither name, so two
    (namespace, id) pairs never share one (`a-b`+`c` and `a`+`b-c` did)."""
    return f"{namespace}/{cid}"


class Containers:
    def __init__(self, store: Store, events: Events, tasks, images=None):
        self.store = store
        self.events = events
        self.tasks = tasks
        self.images = images

    async def create(self, id: str, spec: dict, rootfs: str = "", namespace: str = "default",
                     labels: dict | None = None, runtime: str = "", image: str = "") -> dict:
        """A container on a rootfs directory, or on a snapshot of an image."""
        check_name("container id", id)
        check_name("namespace", namespace)
        if rootfs and not os.path.isabs(rootfs):
            raise InvalidArgument(f"rootfs {rootfs!r} is not an absolute path")
        if image and rootfs:
            raise InvalidArgument("give an image or a rootfs, not both")
        record = {"id": id, "namespace": namespace, "spec": spec, "rootfs": rootfs,
                  "labels": labels or {}, "runtime": runtime, "created_at": rfc3339nano(),
                  "image": image, "snapshot_key": ""}
        if self.store.exists("containers", namespace, id):
            raise AlreadyExists(f"container {id!r}: already exists")
        if image:
            record["snapshot_key"] = snapshot_key(namespace, id)
            await self.images.prepare_snapshot(record["snapshot_key"], image, namespace)
        try:
            self.store.create("containers", namespace, id, record)
        except BaseException:
            if record["snapshot_key"]:
                self.images.snapshots.remove(record["snapshot_key"])
            raise
        self.events.publish(namespace, "/containers/create", {"id": id, "image": image} if image else {"id": id})
        return record

    def get(self, id: str, namespace: str = "default") -> dict:
        return self.store.get("containers", namespace, id)

    def list(self, namespace: str = "default") -> list:
        return self.store.list("containers", namespace)

    def update(self, id: str, namespace: str = "default", spec: dict | None = None,
               labels: dict | None = None) -> dict:
        """A new spec (for the next task: a running one keeps its own) or
        labels for a container."""
        record = self.store.get("containers", namespace, id)
        if spec is not None:
            if not isinstance(spec, dict):
                raise InvalidArgument("update: spec must be an object")
            record["spec"] = spec
        if labels is not None:
            if not isinstance(labels, dict):
                raise InvalidArgument("update: labels must be an object")
            record["labels"] = labels
        self.store.put("containers", namespace, id, record)
        self.events.publish(namespace, "/containers/update", {"id": id})
        return record

    async def delete(self, id: str, namespace: str = "default") -> None:
        if self.tasks.has_task(namespace, id):
            raise FailedPrecondition(f"container {id!r} has a task: delete it first")
        record = self.store.get("containers", namespace, id)
        await self.unmount(id, namespace)
        self.store.delete("containers", namespace, id)
        if record.get("snapshot_key"):
            self.images.snapshots.remove(record["snapshot_key"])
            await self.images.collect()  # its image may have gone while it ran
        self.events.publish(namespace, "/containers/delete", {"id": id})

    def mount_dir(self, namespace: str, id: str) -> str:
        return os.path.join(self.tasks.state_root, "mounts", namespace, id)

    async def mount(self, id: str, namespace: str = "default", live: bool = False) -> str:
        """The container's filesystem mounted for reading and writing while
        it has no task (docker cp of a stopped container); its path. With
        live, a running container's own rootfs mount (its snapshot, without
        what is mounted inside the container: docker export)."""
        record = self.store.get("containers", namespace, id)
        if self.tasks.has_task(namespace, id):
            rootfs = os.path.join(self.tasks.task_dir(namespace, id), "rootfs")
            if live and os.path.ismount(rootfs):
                return rootfs
            raise FailedPrecondition(f"container {id!r} has a task: use its root")
        if not record.get("snapshot_key"):
            return record.get("rootfs") or ""
        target = self.mount_dir(namespace, id)
        if not os.path.ismount(target):
            self.images.snapshots.mount(record["snapshot_key"], target)
        return target

    async def unmount(self, id: str, namespace: str = "default") -> None:
        target = self.mount_dir(namespace, id)
        if os.path.ismount(target):
            self.images.snapshots.unmount(target)
        try:
            os.rmdir(target)
        except OSError:
            pass

    def _snapshot(self, id: str, namespace: str) -> dict:
        record = self.store.get("containers", namespace, id)
        if not record.get("snapshot_key"):
            raise FailedPrecondition(f"container {id!r} is on a rootfs directory, not an image snapshot")
        return record

    async def changes(self, id: str, namespace: str = "default") -> list:
        """What the container changed in its image's filesystem: [{"Path",
        "Kind"}] (Kind 0 changed, 1 added, 2 deleted) as Docker's."""
        import asyncio
        from busybox_engine.image import diff
        upper, lowers = self.images.snapshots.layers(self._snapshot(id, namespace)["snapshot_key"])
        return await asyncio.get_running_loop().run_in_executor(None, diff.changes, upper, lowers)

    async def commit(self, id: str, namespace: str = "default", name: str = "", config: dict | None = None,
                     history: dict | None = None) -> dict:
        """An image of the container's image plus its changes (see
        images.commit); {"id", "name"}."""
        record = self._snapshot(id, namespace)
        if name:
            from busybox_engine.image.reference import normalize
            try:
                name = normalize(name)
            except ValueError as e:
                raise InvalidArgument(f"invalid reference format: {e}") from None
        return await self.images.commit(record["snapshot_key"], record["image"], name, config or {},
                                        history or {}, namespace)

    def sweep_snapshots(self) -> int:
        """Remove active snapshots no container record owns (a crash between
        prepare and the record, or during a delete); how many went."""
        removed = 0
        for key in self.images.snapshots.active_snapshots():
            ns, _, cid = key.partition("/")
            try:
                owner = self.store.get("containers", ns, cid).get("snapshot_key")
            except Exception:  # noqa: BLE001 - no record, or an unreadable one
                owner = None
            if owner != key:
                self.images.snapshots.remove(key)
                removed += 1
        return removed
