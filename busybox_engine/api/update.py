"""docker update: POST /containers/{id}/update, new resource limits and
restart policy, applied to a running container through its runtime."""
from busybox_engine.api.http import Request, Response, json_response
from busybox_engine.api.validate import HOST_CONFIG, check_fields, check_restart_policy
from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument, NotFound

# Docker's UpdateConfig: the resource fields and the restart policy; a
# zero or empty value leaves the setting as it is, as Docker's update does
NUMBERS = ("CpuShares", "Memory", "NanoCpus", "BlkioWeight", "CpuPeriod", "CpuQuota",
           "CpuRealtimePeriod", "CpuRealtimeRuntime", "MemoryReservation", "MemorySwap",
           "KernelMemory")
STRINGS = ("CpusetCpus", "CpusetMems")
FIELDS = NUMBERS + STRINGS + ("PidsLimit", "RestartPolicy")


def register(r, engine) -> None:
    r.add("POST", "/containers/{id}/update", UpdateRoutes(engine).update)


def merged(hc: dict, body: dict) -> dict:
    """The HostConfig after an update body, checked as Docker checks it."""
    out = dict(hc)
    for key in NUMBERS + STRINGS:
        if body.get(key):
            out[key] = body[key]
    if body.get("PidsLimit") is not None:
        out["PidsLimit"] = body["PidsLimit"] if body["PidsLimit"] > 0 else 0
    mem, swap = body.get("Memory") or 0, body.get("MemorySwap") or 0
    if mem and 0 < mem < 6 * 1024 * 1024:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if mem and not swap and (hc.get("MemorySwap") or 0) > 0 and mem > hc["MemorySwap"]:
        raise InvalidArgument("Memory limit should be smaller than already set memoryswap limit, "
                              "update the memoryswap at the same time")
    if (out.get("MemorySwap") or 0) > 0 and (out.get("Memory") or 0) > out["MemorySwap"]:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if body.get("NanoCpus") and (out.get("CpuQuota") or out.get("CpuPeriod")):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if (body.get("CpuQuota") or body.get("CpuPeriod")) and out.get("NanoCpus"):
        raise InvalidArgument("Conflicting options: CPU Quota or CPU Period cannot be updated "
                              "because NanoCPUs has already been set")
    policy = body.get("RestartPolicy") or {}
    if policy.get("Name"):
        if hc.get("AutoRemove"):
            raise InvalidArgument("Restart policy cannot be updated because AutoRemove is enabled "
                                  "for the container")
        out["RestartPolicy"] = check_restart_policy(policy)
    return out


class UpdateRoutes:
    def __init__(self, engine):
        self.engine = engine

    async def update(self, req: Request) -> Response:
        c = self.engine.containers.get(req.params["id"])
        body = await req.json()
        if not isinstance(body, dict):
            raise InvalidArgument("json: cannot unmarshal into Go value of type container.UpdateConfig")
        body = check_fields({k: v for k, v in body.items() if k in FIELDS}, HOST_CONFIG, "UpdateConfig")
        if c.state.get("Removing") or c.state["Dead"]:
            raise FailedPrecondition(f"Cannot update container {c.id}: container is marked for removal "
                                     "and cannot be \"update\"")
        hc = merged(c.host_config, body)
        from busybox_engine.api.sysinfo import verify
        warnings = verify(hc)
        from busybox_engine.api.spec import resources
        res = resources(hc)
        # the spec of its next start, then the running task
        record = await self.engine.ctd.call("containers.get", id=c.id)
        spec = record["spec"]
        old = spec.setdefault("linux", {}).get("resources") or {}
        spec["linux"]["resources"] = dict(res, devices=old.get("devices") or [])
        await self.engine.ctd.call("containers.update", id=c.id, spec=spec)
        if c.state["Running"] and not c.state["Restarting"]:
            try:
                await self.engine.ctd.call("tasks.update", container_id=c.id, resources=res)
            except (FailedPrecondition, NotFound):
                pass  # it stopped meanwhile: the new limits are for its next start
        c.data["HostConfig"] = hc
        c.save()
        self.engine.container_event(c, "update")
        return json_response({"Warnings": warnings or None})
