"""The CRI's pure parts: OCI specs from CRI configs, CNI configuration
loading and results, the CRI log format."""
import json
import os

import pytest

from busybox_engine.cri import cri_api_pb2 as pb
from busybox_engine.cri import cni
from busybox_engine.cri.spec import capabilities, container_spec, resources, sandbox_spec, stop_signal
from busybox_engine.oci.caps import ALL_CAPS
from busybox_engine.rpc.errors import InvalidArgument
from busybox_engine.shim.iolog import MAX_LINE, CRILog

IMAGE = {"config": {"Env": ["PATH=/bin", "A=image"], "Entrypoint": ["/ep"], "Cmd": ["c1", "c2"],
                    "WorkingDir": "/work", "User": "", "StopSignal": "SIGQUIT"}}


def sandbox(**linux) -> "pb.PodSandboxConfig":
    return pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name="p", uid="u", namespace="n"),
                               hostname="p", linux=pb.LinuxPodSandboxConfig(**linux))


def spec_of(config: "pb.ContainerConfig", sb=None, tmp="/nonexistent") -> dict:
    return container_spec("c" * 64, "s" * 64, config, sb or sandbox(), IMAGE, "busybox", 42, "/run/netns/x", tmp)[0]


def test_command_and_args_as_containerd_combines_them():
    meta = pb.ContainerMetadata(name="c")
    assert spec_of(pb.ContainerConfig(metadata=meta))["process"]["args"] == ["/ep", "c1", "c2"]
    assert spec_of(pb.ContainerConfig(metadata=meta, args=["a"]))["process"]["args"] == ["/ep", "a"]
    assert spec_of(pb.ContainerConfig(metadata=meta, command=["x"]))["process"]["args"] == ["x"]
    assert spec_of(pb.ContainerConfig(metadata=meta, command=["x"], args=["y"]))["process"]["args"] == ["x", "y"]
    with pytest.raises(InvalidArgument):
        container_spec("c", "s", pb.ContainerConfig(metadata=meta), sandbox(), {"config": {}}, "i", 1, "", "/x")


def test_env_cwd_user_namespaces_and_cgroup():
    sc = pb.LinuxContainerSecurityContext(run_as_user=pb.Int64Value(value=1000),
                                          run_as_group=pb.Int64Value(value=100), supplemental_groups=[5, 6])
    config = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"), envs=[pb.KeyValue(key="A", value="mine")],
                                linux=pb.LinuxContainerConfig(security_context=sc))
    spec = spec_of(config, sandbox(cgroup_parent="/kubepods/pod1"))
    assert spec["process"]["env"] == ["PATH=/bin", "A=mine"] and spec["process"]["cwd"] == "/work"
    assert spec["process"]["user"] == {"uid": 1000, "gid": 100, "additionalGids": [5, 6]}
    ns = {n["type"]: n.get("path") for n in spec["linux"]["namespaces"]}
    assert ns == {"mount": None, "network": "/run/netns/x", "uts": "/proc/42/ns/uts", "ipc": "/proc/42/ns/ipc",
                  "pid": "/proc/42/ns/pid"}
    assert spec["linux"]["cgroupsPath"] == "/kubepods/pod1/" + "c" * 64
    with pytest.raises(InvalidArgument):   # a group without a user
        spec_of(pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"), linux=pb.LinuxContainerConfig(
            security_context=pb.LinuxContainerSecurityContext(run_as_group=pb.Int64Value(value=1)))))
    with pytest.raises(InvalidArgument):
        spec_of(config, sandbox(cgroup_parent="relative/path"))


def test_capabilities_add_drop_all():
    ctx = pb.LinuxContainerSecurityContext
    assert "CAP_NET_ADMIN" in capabilities(ctx(capabilities=pb.Capability(add_capabilities=["NET_ADMIN"])))
    assert "CAP_CHOWN" not in capabilities(ctx(capabilities=pb.Capability(drop_capabilities=["chown"])))
    assert capabilities(ctx(capabilities=pb.Capability(drop_capabilities=["ALL"], add_capabilities=["KILL"]))) \
        == ["CAP_KILL"]
    with pytest.raises(InvalidArgument):
        capabilities(ctx(capabilities=pb.Capability(add_capabilities=["NOPE"])))
    # all of them is what this host's bounding set holds (capset refuses the rest)
    with open("/proc/self/status") as f:
        bounding = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    held = [c for i, c in enumerate(ALL_CAPS) if bounding >> i & 1]
    every = capabilities(ctx(privileged=True))
    assert every == capabilities(ctx(capabilities=pb.Capability(add_capabilities=["ALL"])))
    assert set(every) <= set(held) and "CAP_SYS_ADMIN" in every


def test_privileged_needs_a_privileged_sandbox():
    config = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"), linux=pb.LinuxContainerConfig(
        security_context=pb.LinuxContainerSecurityContext(privileged=True)))
    with pytest.raises(InvalidArgument):
        spec_of(config)
    spec = spec_of(config, sandbox(security_context=pb.LinuxSandboxSecurityContext(privileged=True)))
    assert "maskedPaths" not in spec["linux"] and "seccomp" not in spec["linux"]
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]


def test_seccomp_profiles(tmp_path):
    def seccomp(**kw):
        return spec_of(pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"), linux=pb.LinuxContainerConfig(
            security_context=pb.LinuxContainerSecurityContext(**kw)))).get("linux", {}).get("seccomp")
    assert seccomp() is None   # nothing asked: unconfined, as containerd 1.6
    assert seccomp(seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault))["defaultAction"] \
        == "SCMP_ACT_ERRNO"
    assert seccomp(seccomp_profile_path="runtime/default") is not None
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}))
    local = seccomp(seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.Localhost,
                                               localhost_ref=str(profile)))
    assert local["defaultAction"] == "SCMP_ACT_ALLOW"
    with pytest.raises(InvalidArgument):
        seccomp(seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.Localhost, localhost_ref="p.json"))
    with pytest.raises(InvalidArgument):   # no AppArmor on this host
        seccomp(apparmor=pb.SecurityProfile(profile_type=pb.SecurityProfile.Localhost, localhost_ref="x"))


def test_resources_and_oom_score_floor():
    r = pb.LinuxContainerResources(cpu_period=100000, cpu_quota=50000, cpu_shares=512, memory_limit_in_bytes=1 << 26,
                                   cpuset_cpus="0", oom_score_adj=-999)
    res, oom = resources(r, min_oom_score_adj=-500)
    assert res == {"cpu": {"period": 100000, "quota": 50000, "shares": 512, "cpus": "0"},
                   "memory": {"limit": 1 << 26}}
    assert oom == -500


def test_stop_signal():
    meta = pb.ContainerMetadata(name="c")
    assert stop_signal(pb.ContainerConfig(metadata=meta), IMAGE) == 3
    assert stop_signal(pb.ContainerConfig(metadata=meta, stop_signal=pb.SIGUSR1), IMAGE) == 10
    assert stop_signal(pb.ContainerConfig(metadata=meta), {"config": {}}) == 15


def test_sandbox_spec_namespaces():
    host = sandbox(security_context=pb.LinuxSandboxSecurityContext(
        namespace_options=pb.NamespaceOption(network=pb.NODE, ipc=pb.NODE, pid=pb.NODE)))
    spec = sandbox_spec("s", host, ["/pause"], None, "", "/d", "/root", [])
    assert [n["type"] for n in spec["linux"]["namespaces"]] == ["mount"] and "hostname" not in spec
    spec = sandbox_spec("s", sandbox(sysctls={"net.ipv4.ip_unprivileged_port_start": "0"}), ["/pause"], None,
                        "/run/netns/x", "/d", "/root", [])
    assert {"type": "network", "path": "/run/netns/x"} in spec["linux"]["namespaces"]
    assert spec["linux"]["sysctl"] == {"net.ipv4.ip_unprivileged_port_start": "0"}
    assert spec["process"]["capabilities"]["bounding"] == [] and spec["root"]["readonly"]


def test_cni_config_loading(tmp_path):
    with pytest.raises(cni.NoNetwork):
        cni.load_network(str(tmp_path / "none"))
    (tmp_path / "00-bad.conflist").write_text("{")
    (tmp_path / "05-noplugins.conflist").write_text(json.dumps({"name": "x", "plugins": []}))
    (tmp_path / "10-one.conf").write_text(json.dumps({"cniVersion": "0.4.0", "name": "one", "type": "bridge"}))
    net = cni.load_network(str(tmp_path))
    assert net["name"] == "one" and [p["type"] for p in net["plugins"]] == ["bridge"]


def test_cni_pod_ips():
    result = {"interfaces": [{"name": "cni0"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/x"}],
              "ips": [{"address": "fd00::2/64", "interface": 2}, {"address": "10.1.0.2/24", "interface": 2},
                      {"address": "10.9.9.9/24", "interface": 0}]}
    assert cni.pod_ips(result) == ["10.1.0.2", "fd00::2"]


def test_cni_check_only_where_the_spec_has_it(tmp_path):
    """CHECK came with CNI 0.4.0 and a conflist may turn it off; where it
    runs, each plugin of the chain is asked, in order."""
    import asyncio
    plugins = [{"type": "bridge"}, {"type": "portmap"}]
    old = {"cniVersion": "0.3.1", "name": "n", "plugins": plugins, "disableCheck": False}
    off = dict(old, cniVersion="1.0.0", disableCheck=True)
    on = dict(old, cniVersion="1.0.0")
    bin_dir = str(tmp_path)   # no plugin in it: a CHECK that runs fails to find bridge
    assert asyncio.run(cni.check(old, "id", "/no/netns", [bin_dir])) is False
    assert asyncio.run(cni.check(off, "id", "/no/netns", [bin_dir])) is False
    with pytest.raises(cni.CNIError, match="'bridge'"):
        asyncio.run(cni.check(on, "id", "/no/netns", [bin_dir]))


def test_cri_log_lines(tmp_path):
    path = str(tmp_path / "c.log")
    log = CRILog(path)
    log.write("stdout", b"one\ntw")
    log.write("stdout", b"o\r\nthree")
    log.write("stderr", b"x" * (MAX_LINE + 5) + b"\n")
    log.close()
    lines = open(path, "rb").read().splitlines()
    fields = [line.split(b" ", 3) for line in lines]
    assert [(f[1], f[2], f[3][:5]) for f in fields] == [
        (b"stdout", b"F", b"one"), (b"stdout", b"F", b"two"), (b"stderr", b"P", b"xxxxx"),
        (b"stderr", b"F", b"xxxxx"), (b"stdout", b"F", b"three")]
    assert len(fields[2][3]) == MAX_LINE and fields[0][0].endswith(b"Z")
    os.rename(path, path + ".1")
    log = CRILog(path + ".1")
    log.path = path
    log.reopen()
    log.write("stdout", b"after\n")
    log.close()
    assert open(path, "rb").read().split(b" ", 3)[3] == b"after\n"


def test_containerd_config_file_layouts(tmp_path):
    """Version 2 (containerd 1.x) and version 3 (2.x) layouts give the same
    settings; keys we do not have are passed over."""
    from busybox_engine.containerd.config_file import ConfigError, load
    v2 = tmp_path / "v2.toml"
    v2.write_text('version = 2\nroot = "/r"\nstate = "/s"\n[grpc]\naddress = "/a.sock"\n[debug]\nlevel = "info"\n'
                  '[plugins."io.containerd.grpc.v1.cri"]\nsandbox_image = "p:1"\nstream_server_port = "10010"\n'
                  '[plugins."io.containerd.grpc.v1.cri".cni]\nbin_dir = "/b"\nconf_dir = "/c"\n'
                  '[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/certs.d"\n')
    v3 = tmp_path / "v3.toml"
    v3.write_text('version = 3\nroot = "/r"\nstate = "/s"\n[grpc]\naddress = "/a.sock"\n'
                  '[plugins."io.containerd.cri.v1.runtime".cni]\nbin_dirs = ["/b"]\nconf_dir = "/c"\n'
                  '[plugins."io.containerd.cri.v1.images".pinned_images]\nsandbox = "p:1"\n'
                  '[plugins."io.containerd.cri.v1.images".registry]\nconfig_path = "/certs.d"\n'
                  '[plugins."io.containerd.grpc.v1.cri"]\nstream_server_port = "10010"\n')
    want = {"root": "/r", "state": "/s", "address": "/a.sock", "cri_cni_conf_dir": "/c", "cri_cni_bin_dir": ["/b"],
            "cri_sandbox_image": "p:1", "cri_registry_config_path": "/certs.d",
            "cri_stream_address": "127.0.0.1:10010"}
    assert load(str(v2)) == want and load(str(v3)) == want
    bad = tmp_path / "bad.toml"
    bad.write_text('[plugins."io.containerd.cri.v1.runtime".cni]\nbin_dirs = ["/b", 3]\n')
    with pytest.raises(ConfigError, match="bin_dirs"):
        load(str(bad))
    bad.write_text('plugins = 1\n')
    with pytest.raises(ConfigError, match="plugins must be a table"):
        load(str(bad))
