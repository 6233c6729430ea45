"""containers.*: container records (a spec on a rootfs or an image snapshot)."""
from busybox_engine.containerd.services.events import Events
from busybox_engine.containerd.store import Store, check_name
from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument
from busybox_engine.util.timefmt import rfc3339nano


class Containers:
    def __init__(self, store: Store, events: Events, tasks, images=None):
        self.store = store
        self.events = events
        self.tasks = tasks
        self.images = images

    def create(self, id: str, spec: dict, rootfs: str = "", namespace: str = "default",
               labels: dict | None = None, runtime: str = "", image: str = "") -> dict:
        """A container on a rootfs directory, or on a snapshot of an image."""
        check_name("container id", id)
        record = {"id": id, "namespace": namespace, "spec": spec, "rootfs": rootfs,
                  "labels": labels or {}, "runtime": runtime, "created_at": rfc3339nano(),
                  "image": image, "snapshot_key": ""}
        if image:
            if rootfs:
                raise InvalidArgument("give an image or a rootfs, not both")
            parent = self.images.top_chain(image, namespace)
            record["snapshot_key"] = f"{namespace}-{id}"
            self.store.create("containers", namespace, id, record)
            self.images.snapshots.prepare(record["snapshot_key"], parent)
            self.events.publish(namespace, "/containers/create", {"id": id, "image": image})
            return record
        self.store.create("containers", namespace, id, record)
        self.events.publish(namespace, "/containers/create", {"id": id})
        return record

    def get(self, id: str, namespace: str = "default") -> dict:
        return self.store.get("containers", namespace, id)

    def list(self, namespace: str = "default") -> list:
        return self.store.list("containers", namespace)

    def delete(self, id: str, namespace: str = "default") -> None:
        if (namespace, id) in self.tasks.shims:
            raise FailedPrecondition(f"container {id!r} has a task: delete it first")
        record = self.store.get("containers", namespace, id)
        self.store.delete("containers", namespace, id)
        if record.get("snapshot_key"):
            self.images.snapshots.remove(record["snapshot_key"])
            self.images.gc()  # its image may have gone while it ran
        self.events.publish(namespace, "/containers/delete", {"id": id})
