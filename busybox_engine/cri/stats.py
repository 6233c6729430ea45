"""ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats:
cgroup figures (v1 and v2, as `runc events --stats` gives them through the
shim) in the CRI's shape, as containerd's CRI plugin computes them:
working set = usage - inactive file, nano cores from the last sample."""
import asyncio
import time

from busybox_engine.cri import NAMESPACE
from busybox_engine.cri import cri_api_pb2 as pb
from busybox_engine.cri.pods import decode, labels_match
from busybox_engine.rpc.errors import RPCError


def _u64(v) -> "pb.UInt64Value":
    return pb.UInt64Value(value=max(0, int(v or 0)))


def _raw(mem: dict, *names) -> int:
    raw = mem.get("raw") or {}
    for n in names:
        if n in raw:
            return int(raw[n])
    return 0


class Stats:
    def __init__(self, pods, ctrs, tasks, images):
        self.pods = pods
        self.ctrs = ctrs
        self.tasks = tasks
        self.images = images
        self.last_cpu = {}   # id -> (timestamp ns, usage ns): for usage_nano_cores

    def _cpu(self, key: str, data: dict, now: int) -> "pb.CpuUsage":
        total = int(((data.get("cpu") or {}).get("usage") or {}).get("total") or 0)
        cpu = pb.CpuUsage(timestamp=now, usage_core_nano_seconds=_u64(total))
        last = self.last_cpu.get(key)
        if last and now > last[0] and total >= last[1]:
            cpu.usage_nano_cores.value = int((total - last[1]) * 1e9 / (now - last[0]))
        else:
            cpu.usage_nano_cores.value = 0
        self.last_cpu[key] = (now, total)
        return cpu

    @staticmethod
    def _memory(data: dict, now: int) -> "pb.MemoryUsage":
        mem = data.get("memory") or {}
        usage = mem.get("usage") or {}
        used = int(usage.get("usage") or 0)
        inactive = _raw(mem, "total_inactive_file", "inactive_file")
        working = used - inactive if used > inactive else 0
        m = pb.MemoryUsage(timestamp=now, working_set_bytes=_u64(working), usage_bytes=_u64(used),
                           rss_bytes=_u64(_raw(mem, "total_rss", "anon")),
                           page_faults=_u64(_raw(mem, "total_pgfault", "pgfault")),
                           major_page_faults=_u64(_raw(mem, "total_pgmajfault", "pgmajfault")))
        limit = int(usage.get("limit") or 0)
        if 0 < limit < (1 << 62):
            m.available_bytes.value = max(0, limit - working)
        return m

    async def _data(self, cid: str) -> dict | None:
        if not self.tasks.has_task(NAMESPACE, cid):
            return None
        try:
            return await self.tasks.stats(cid, NAMESPACE)
        except RPCError:
            return None

    async def container_stats(self, r: dict, raw: dict | None = None) -> "pb.ContainerStats":
        """raw, if given, gets the cgroup figures by container id (a pod's
        totals are made from them without asking the shims again)."""
        config = decode(pb.ContainerConfig, r["config"])
        st = pb.ContainerStats(attributes=pb.ContainerAttributes(id=r["id"], metadata=config.metadata,
                                                                 labels=config.labels,
                                                                 annotations=config.annotations))
        now = time.time_ns()
        data = await self._data(r["id"]) if r["state"] == "running" else None
        if raw is not None:
            raw[r["id"]] = data or {}
        if data is not None:
            st.cpu.CopyFrom(self._cpu(r["id"], data, now))
            st.memory.CopyFrom(self._memory(data, now))
        root = self.images.service.snapshots.root
        upper = self._upper(r["id"])
        if upper:
            from busybox_engine.cri.images import disk_usage
            used, inodes = await asyncio.get_running_loop().run_in_executor(None, disk_usage, upper)
            st.writable_layer.CopyFrom(pb.FilesystemUsage(
                timestamp=now, fs_id=pb.FilesystemIdentifier(mountpoint=root), used_bytes=_u64(used),
                inodes_used=_u64(inodes)))
        return st

    def _upper(self, cid: str) -> str:
        """The container's writable layer (its snapshot's upper directory)."""
        try:
            key = self.ctrs.containers.get(cid, NAMESPACE).get("snapshot_key") or ""
            return self.images.service.snapshots.layers(key)[0] if key else ""
        except (RPCError, OSError, ValueError):
            return ""

    async def ContainerStats(self, request):
        r = self.ctrs.get(request.container_id)
        return pb.ContainerStatsResponse(stats=await self.container_stats(r))

    async def ListContainerStats(self, request):
        f = request.filter
        chosen = []
        for r in self.ctrs.records():
            if f.id and not r["id"].startswith(f.id):
                continue
            if f.pod_sandbox_id and not r["sandbox_id"].startswith(f.pod_sandbox_id):
                continue
            if not labels_match(decode(pb.ContainerConfig, r["config"]).labels, f.label_selector):
                continue
            chosen.append(r)
        stats = await asyncio.gather(*(self.container_stats(r) for r in chosen))
        return pb.ListContainerStatsResponse(stats=stats)

    async def sandbox_stats(self, record: dict) -> "pb.PodSandboxStats":
        config = decode(pb.PodSandboxConfig, record["config"])
        st = pb.PodSandboxStats(attributes=pb.PodSandboxAttributes(
            id=record["id"], metadata=config.metadata, labels=config.labels, annotations=config.annotations))
        now = time.time_ns()
        ctrs = [r for r in self.ctrs.of_sandbox(record["id"])]
        raw = {}
        cstats = await asyncio.gather(*(self.container_stats(r, raw) for r in ctrs))
        st.linux.containers.extend(cstats)
        if record["state"] != "ready":
            return st
        pause = await self._data(record["id"]) or {}
        cpu_total = int(((pause.get("cpu") or {}).get("usage") or {}).get("total") or 0)
        cpu_total += sum(c.cpu.usage_core_nano_seconds.value for c in cstats)
        st.linux.cpu.CopyFrom(self._cpu("pod:" + record["id"], {"cpu": {"usage": {"total": cpu_total}}}, now))
        mem = self._memory(pause, now)
        for c in cstats:
            for field in ("working_set_bytes", "usage_bytes", "rss_bytes", "page_faults", "major_page_faults"):
                getattr(mem, field).value += getattr(c.memory, field).value
        st.linux.memory.CopyFrom(mem)
        procs = sum(int((d.get("pids") or {}).get("current") or 0) for d in [pause, *raw.values()])
        st.linux.process.CopyFrom(pb.ProcessUsage(timestamp=now, process_count=_u64(procs)))
        if record["pid"] and record["netns"]:
            net = _net_dev(record["pid"])
            if net:
                st.linux.network.timestamp = now
                for name, (rx, rxe, tx, txe) in sorted(net.items()):
                    usage = pb.NetworkInterfaceUsage(name=name, rx_bytes=_u64(rx), rx_errors=_u64(rxe),
                                                     tx_bytes=_u64(tx), tx_errors=_u64(txe))
                    if name == "eth0":
                        st.linux.network.default_interface.CopyFrom(usage)
                    elif name != "lo":
                        st.linux.network.interfaces.append(usage)
        return st

    async def PodSandboxStats(self, request):
        record = self.pods.get(request.pod_sandbox_id)
        return pb.PodSandboxStatsResponse(stats=await self.sandbox_stats(record))

    async def ListPodSandboxStats(self, request):
        f = request.filter
        chosen = [r for r in self.pods.records()
                  if (not f.id or r["id"].startswith(f.id))
                  and labels_match(decode(pb.PodSandboxConfig, r["config"]).labels, f.label_selector)]
        stats = await asyncio.gather(*(self.sandbox_stats(r) for r in chosen))
        return pb.ListPodSandboxStatsResponse(stats=stats)


def _net_dev(pid: int) -> dict:
    """name -> (rx bytes, rx errors, tx bytes, tx errors) in pid's network namespace."""
    out = {}
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return out
    for line in lines:
        name, _, rest = line.partition(":")
        v = rest.split()
        if len(v) >= 12:
            out[name.strip()] = (int(v[0]), int(v[2]), int(v[8]), int(v[10]))
    return out
