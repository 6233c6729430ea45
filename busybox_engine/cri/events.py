"""GetContainerEvents: what happens to containers and pods, streamed to
every subscriber (kubelet's evented PLEG, `crictl events`), each event
with the pod's status and its containers' statuses, as containerd's CRI
plugin sends them. A subscriber that does not read loses events past
its buffer rather than holding anything up."""
import asyncio
import sys
import time

from busybox_engine.cri import cri_api_pb2 as pb

BUFFER = 1000


class Events:
    def __init__(self):
        self.pods = None
        self.ctrs = None
        self.queues = set()

    def publish(self, container_id: str, sandbox_id: str, kind: int) -> None:
        if not self.queues:
            return
        ev = pb.ContainerEventResponse(container_id=container_id, container_event_type=kind,
                                       created_at=time.time_ns())
        try:
            record = self.pods.get(sandbox_id)
            ev.pod_sandbox_status.CopyFrom(self.pods.status_message(record))
            ev.containers_statuses.extend(self.ctrs.status_message(r) for r in self.ctrs.of_sandbox(sandbox_id))
        except Exception:   # noqa: BLE001 - a pod already gone: the event goes without its status
            pass
        for q in list(self.queues):
            try:
                q.put_nowait(ev)
            except asyncio.QueueFull:
                sys.stderr.write("containerd: CRI: a slow events subscriber lost an event\n")

    async def GetContainerEvents(self, request):
        q = asyncio.Queue(BUFFER)
        self.queues.add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self.queues.discard(q)
