"""The CRI endpoint itself, through crictl 1.29 and our gRPC client:
Version, Status, RuntimeConfig, the socket, unknown methods."""
import json
import os
import stat

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError


def upb_loaded(pid: int) -> bool:
    with open(f"/proc/{pid}/maps") as f:
        return "_upb" in f.read()


def test_version_info_and_socket(cri):
    cri.start()
    assert stat.S_IMODE(os.stat(cri.sock).st_mode) == 0o600
    pid = cri.containerd.proc.popen.pid
    # the gRPC stack loads with the first CRI connection, not before
    assert not upb_loaded(pid)
    out = cri.crictl("version").stdout
    assert "RuntimeName:  busybox-engine" in out and "RuntimeApiVersion:  v1" in out
    assert "Version:  0.1.0" in out.splitlines()[0]
    assert upb_loaded(pid)
    reply = cri.call("RuntimeService/Version", version="v1")
    assert (reply.version, reply.runtime_api_version) == ("0.1.0", "v1")


def test_status_follows_cni_config(cri):
    cri.start()
    info = cri.crictl_json("info")
    conditions = {c["type"]: c for c in info["status"]["conditions"]}
    assert conditions["RuntimeReady"]["status"] is True
    assert conditions["NetworkReady"]["status"] is False
    assert conditions["NetworkReady"]["reason"] == "NetworkPluginNotReady"
    assert info["config"]["cni_conf_dir"] == str(cri.cni_dir)
    # a broken file is passed over, a good one makes the network ready
    (cri.cni_dir / "05-broken.conflist").write_text("{not json")
    (cri.cni_dir / "10-pods.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "pods", "plugins": [{"type": "bridge"}]}))
    info = cri.crictl_json("info")
    conditions = {c["type"]: c for c in info["status"]["conditions"]}
    assert conditions["NetworkReady"]["status"] is True, info
    assert info["lastCNILoadStatus"] == "OK"
    reply = cri.call("RuntimeService/Status", verbose=False)
    assert [c.type for c in reply.status.conditions] == ["RuntimeReady", "NetworkReady"]
    assert dict(reply.info) == {}   # info only when verbose, as the CRI says


def test_runtime_config_and_update(cri):
    cri.start()
    from busybox_engine.cri import cri_api_pb2 as pb
    assert cri.call("RuntimeService/RuntimeConfig").linux.cgroup_driver == pb.CGROUPFS
    cri.call("RuntimeService/UpdateRuntimeConfig",
             runtime_config=pb.RuntimeConfig(network_config=pb.NetworkConfig(pod_cidr="10.88.0.0/16")))
    assert cri.crictl_json("info")["podCIDR"] == "10.88.0.0/16"


def test_unknown_method_is_unimplemented(cri):
    cri.start()
    import asyncio

    from grpclib.client import Channel, UnaryUnaryMethod

    from busybox_engine.cri import cri_api_pb2 as pb

    async def go():
        channel = Channel(path=cri.sock)
        try:
            return await UnaryUnaryMethod(channel, "/runtime.v1.RuntimeService/CheckpointContainer",
                                          pb.StartContainerRequest, pb.StartContainerResponse)(
                pb.StartContainerRequest(container_id="x"), timeout=30)
        finally:
            channel.close()
    with pytest.raises(GRPCError) as e:
        asyncio.run(go())
    assert e.value.status == Status.UNIMPLEMENTED
    # the endpoint still serves
    assert cri.call("RuntimeService/Version").runtime_api_version == "v1"


def test_cri_off_and_socket_gone_on_stop(cri, tmp_path):
    cri.containerd.start("--cri-address", "")
    assert not os.path.exists(tmp_path / "cri.sock")
    cri.containerd.stop()
    cri.start()
    assert os.path.exists(cri.sock)
    cri.containerd.stop()
    assert not os.path.exists(cri.sock)


def test_default_cri_socket_taken_by_another_containerd(containerd, engine, tmp_path):
    """A second containerd whose default CRI socket (cri.sock beside its
    own) is the first one's starts without CRI and says so; a CRI socket
    asked for by flag that is taken is an error."""
    import subprocess

    from tests.cri.client import call
    from tests.supervisor.conftest import Containerd
    other = tmp_path / "other"
    other.mkdir()
    taken = str(other / "cri.sock")
    containerd.start("--cri-address", taken)
    second = Containerd(engine, other)
    try:
        second.start()
        log = (other / "containerd.log").read_text()
        assert "no CRI endpoint: another CRI endpoint is already listening" in log
        assert call(taken, "RuntimeService/Version").runtime_api_version == "v1"
    finally:
        second.cleanup()
    d = tmp_path / "third"
    r = subprocess.run(engine.argv("containerd", "--address", str(d / "c.sock"), "--root", str(d / "root"),
                                   "--state", str(d / "state"), "--cri-address", taken),
                       env=engine.env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "already listening" in r.stderr


def test_config_file_settings_and_flags_over_them(cri, tmp_path):
    """containerd --config: the CRI settings in containerd's TOML layout; a
    flag given as well wins (the fixture's --cri-cni-conf-dir here)."""
    certs = tmp_path / "certs.d"
    certs.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(f'''version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.example/pause:3.9"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{tmp_path}/cni-bin"
    conf_dir = "{tmp_path}/not-this-one"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{certs}"
''')
    cri.start("--config", str(config))
    got = cri.crictl_json("info")["config"]
    assert got["sandbox_image"] == "registry.example/pause:3.9"
    assert got["registry_config_path"] == str(certs)
    assert got["cni_bin_dirs"] == [f"{tmp_path}/cni-bin"]
    assert got["cni_conf_dir"] == str(cri.cni_dir)


def test_bad_config_file_fails_the_start(engine, tmp_path):
    import subprocess
    base = ["containerd", "--address", str(tmp_path / "c.sock"), "--root", str(tmp_path / "root"),
            "--state", str(tmp_path / "state"), "--cri-address", ""]
    for text, words in (("root = [", "failed to load config file"),
                        ('[plugins."io.containerd.grpc.v1.cri"]\nsandbox_image = 3\n', "must be a string"),
                        (None, "No such file")):
        path = tmp_path / "config.toml"
        if text is None:
            path.unlink()
        else:
            path.write_text(text)
        r = subprocess.run(engine.argv(*base, "--config", str(path)), env=engine.env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 1 and words in r.stderr, r.stderr
    assert not (tmp_path / "c.sock").exists()
