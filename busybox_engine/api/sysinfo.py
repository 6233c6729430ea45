"""What this host's cgroups can enforce, and Docker's verdict on resources
that ask for more: some are refused, others dropped with a warning that
`docker run` prints (as dockerd's verifyPlatformContainerResources)."""
import os

from busybox_engine.rpc.errors import InvalidArgument

_found = None


def features() -> dict:
    """{feature: bool}, looked up once a daemon."""
    global _found
    if _found is None:
        from busybox_engine.runtime.cgroups.hierarchy import MOUNT_ROOT, mounts
        m = mounts()
        if m.is_cgroup2(MOUNT_ROOT):
            try:
                with open(os.path.join(MOUNT_ROOT, "cgroup.controllers")) as f:
                    ctrls = f.read().split()
            except OSError:
                ctrls = []
            io = "io" in ctrls
            _found = dict(blkio_weight=io, blkio_weight_device=io, read_bps=io, write_bps=io,
                          read_iops=io, write_iops=io, cpu_realtime=False, kernel_memory=False)
        else:
            blkio = m.v1.get("blkio", ("",))[0]
            cpu = m.v1.get("cpu", ("",))[0]

            def has(d, *names):
                return bool(d) and any(os.path.exists(os.path.join(d, n)) for n in names)
            _found = dict(
                blkio_weight=has(blkio, "blkio.weight", "blkio.bfq.weight"),
                blkio_weight_device=has(blkio, "blkio.weight_device", "blkio.bfq.weight_device"),
                read_bps=has(blkio, "blkio.throttle.read_bps_device"),
                write_bps=has(blkio, "blkio.throttle.write_bps_device"),
                read_iops=has(blkio, "blkio.throttle.read_iops_device"),
                write_iops=has(blkio, "blkio.throttle.write_iops_device"),
                cpu_realtime=has(cpu, "cpu.rt_period_us"),
                # the kernel keeps the file but no longer enforces kmem limits
                kernel_memory=False)
    return _found


# (HostConfig field, feature, warning when the host lacks it)
DISCARDED = (
    ("KernelMemory", "kernel_memory", "Your kernel does not support kernel memory limit capabilities or the "
                                      "cgroup is not mounted. Limitation discarded."),
    ("BlkioWeight", "blkio_weight", "Your kernel does not support Block I/O weight or the cgroup is not "
                                    "mounted. Weight discarded."),
    ("BlkioWeightDevice", "blkio_weight_device", "Your kernel does not support Block I/O weight_device or the "
                                                 "cgroup is not mounted. Weight-device discarded."),
    ("BlkioDeviceReadBps", "read_bps", "Your kernel does not support BPS Block I/O read limit or the cgroup is "
                                       "not mounted. Block I/O BPS read limit discarded."),
    ("BlkioDeviceWriteBps", "write_bps", "Your kernel does not support BPS Block I/O write limit or the cgroup "
                                         "is not mounted. Block I/O BPS write limit discarded."),
    ("BlkioDeviceReadIOps", "read_iops", "Your kernel does not support IOPS Block read limit or the cgroup is "
                                         "not mounted. Block I/O IOPS read limit discarded."),
    ("BlkioDeviceWriteIOps", "write_iops", "Your kernel does not support IOPS Block write limit or the cgroup "
                                           "is not mounted. Block I/O IOPS write limit discarded."),
)


def verify(hc: dict, found: dict | None = None) -> list:
    """Check hc's resources against the host: InvalidArgument for what
    Docker refuses; what it cannot enforce is removed from hc, and the
    warnings are returned."""
    found = features() if found is None else found
    weight = hc.get("BlkioWeight") or 0
    if weight and not 10 <= weight <= 1000 and found["blkio_weight"]:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    period, runtime = hc.get("CpuRealtimePeriod") or 0, hc.get("CpuRealtimeRuntime") or 0
    if (period or runtime) and not found["cpu_realtime"]:
        raise InvalidArgument("Your kernel does not support CPU real-time scheduler")
    if period and runtime and runtime > period:
        raise InvalidArgument("cpu real-time runtime cannot be higher than cpu real-time period")
    warnings = []
    for key, feature, text in DISCARDED:
        if hc.get(key) and not found[feature]:
            hc[key] = [] if isinstance(hc[key], list) else 0
            warnings.append(text)
    return warnings
