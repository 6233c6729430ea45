"""dockerd's verdict on resources the host cannot enforce (as Docker's
verifyPlatformContainerResources), and the spec entries of block I/O
limits and device cgroup rules."""
import os

import pytest

from busybox_engine.api import devices, spec, sysinfo
from busybox_engine.rpc.errors import InvalidArgument

ALL = dict.fromkeys(("blkio_weight", "blkio_weight_device", "read_bps", "write_bps", "read_iops",
                     "write_iops", "cpu_realtime", "kernel_memory"), True)
NONE = dict.fromkeys(ALL, False)


def test_unsupported_limits_are_dropped_with_dockers_warnings():
    hc = {"BlkioWeight": 300, "BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1}], "KernelMemory": 8 << 20,
          "Memory": 1 << 30}
    warnings = sysinfo.verify(hc, NONE)
    assert warnings == [
        "Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. "
        "Limitation discarded.",
        "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
        "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. "
        "Block I/O BPS read limit discarded."]
    assert hc == {"BlkioWeight": 0, "BlkioDeviceReadBps": [], "KernelMemory": 0, "Memory": 1 << 30}
    hc = {"BlkioWeight": 300, "BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1}]}
    assert sysinfo.verify(dict(hc), ALL) == []


@pytest.mark.parametrize("hc, found, message", [
    ({"BlkioWeight": 5}, ALL, "Range of blkio weight is from 10 to 1000"),
    ({"CpuRealtimeRuntime": 10}, NONE, "Your kernel does not support CPU real-time scheduler"),
    ({"CpuRealtimePeriod": 10, "CpuRealtimeRuntime": 20}, ALL,
     "cpu real-time runtime cannot be higher than cpu real-time period"),
])
def test_refused_resources(hc, found, message):
    with pytest.raises(InvalidArgument, match=message):
        sysinfo.verify(hc, found)


def test_device_cgroup_rules_and_block_devices_in_the_spec():
    rules = devices.cgroup_rules({"DeviceCgroupRules": ["c 1:* rw", "b *:3 m"]})
    assert rules == [{"allow": True, "type": "c", "access": "rw", "major": 1, "minor": -1},
                     {"allow": True, "type": "b", "access": "m", "major": -1, "minor": 3}]
    with pytest.raises(InvalidArgument, match="invalid device cgroup rule format: 'x 1:2 r'"):
        devices.cgroup_rules({"DeviceCgroupRules": ["x 1:2 r"]})
    st = os.stat("/dev/null")
    res = spec.resources({"BlkioDeviceWriteIOps": [{"Path": "/dev/null", "Rate": 7}],
                          "BlkioWeightDevice": [{"Path": "/dev/null", "Weight": 200}],
                          "CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 500})
    dev = {"major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev)}
    assert res["blockIO"] == {"throttleWriteIOPSDevice": [dict(dev, rate=7)],
                              "weightDevice": [dict(dev, weight=200)]}
    assert res["cpu"] == {"realtimePeriod": 1000, "realtimeRuntime": 500}
    with pytest.raises(InvalidArgument, match="/dev/nope"):
        spec.resources({"BlkioDeviceReadBps": [{"Path": "/dev/nope", "Rate": 1}]})
