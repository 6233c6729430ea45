"""Pods and their containers over the CRI, driven by crictl 1.29 and our
gRPC client: a pause process holds the pod's namespaces, CNI (Debian's
bridge, host-local, portmap, loopback) gives it an address, the shim
writes each container's log in the CRI format, and nothing is left behind."""
import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from tests.cri.conftest import BRIDGE, Pod
from tests.fixtures.registry import free_port
from tests.helpers import wait_for


def host_veths() -> set:
    return {n for n in os.listdir("/sys/class/net") if n.startswith("veth")}


def ipam_leases(ipam) -> list:
    d = ipam / "bbtpods"
    return sorted(n for n in os.listdir(d) if n[0].isdigit()) if d.is_dir() else []


def test_pod_and_container_lifecycle(cri, cni_net, busybox_image, tmp_path):
    veths = host_veths()
    cri.start()
    busybox_image()
    pod = Pod(cri, tmp_path).run()
    pods = cri.crictl_json("pods")["items"]
    assert [(p["id"], p["state"], p["metadata"]["name"]) for p in pods] == [(pod.id, "SANDBOX_READY", "p1")]
    status = cri.crictl_json("inspectp", pod.id)
    ip = status["status"]["network"]["ip"]
    assert ip.startswith("10.214.0.") and ipam_leases(cni_net) == [ip]
    netns = status["info"]["netns"]
    assert os.path.ismount(netns)
    # the pause process is ours, named pause, in the pod's namespaces
    pid = status["info"]["pid"]
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "pause"
    assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(netns).st_ino
    # the thread that made the namespace is gone: containerd is all on the host's
    cpid = cri.containerd.proc.popen.pid
    host_net = os.stat("/proc/self/ns/net").st_ino
    assert {os.stat(f"/proc/{cpid}/task/{t}/ns/net").st_ino for t in os.listdir(f"/proc/{cpid}/task")} == {host_net}

    cid = pod.container("c1", ["sh", "-c", "echo hello; echo oops >&2; hostname; sleep 1000"])
    wait_for(lambda: "hello" in cri.crictl("logs", cid).stdout, what="the container's output")
    logs = cri.crictl("logs", cid)
    assert logs.stdout == "hello\np1\n" and logs.stderr == "oops\n"
    lines = (pod.logs / "c1" / "0.log").read_text().splitlines()
    assert len(lines) == 3 and {line.split(" ", 3)[1:3][0] for line in lines} == {"stdout", "stderr"}
    assert all(line.split(" ")[2] == "F" and line.split(" ")[0].endswith("Z") for line in lines)
    ctr = cri.crictl_json("inspect", cid)["status"]
    assert ctr["state"] == "CONTAINER_RUNNING" and ctr["logPath"] == str(pod.logs / "c1" / "0.log")
    assert ctr["imageRef"].startswith("docker.io/library/busybox@sha256:")
    # the pod's network namespace from inside
    out = cri.crictl("exec", "-s", cid, "cat", "/proc/net/fib_trie").stdout
    assert ip in out
    r = cri.crictl("exec", "-s", cid, "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert r.returncode != 0 and "exited with 3" in r.stderr
    from busybox_engine.cri import cri_api_pb2 as pb  # noqa: F401
    reply = cri.call("RuntimeService/ExecSync", container_id=cid, cmd=["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (reply.stdout, reply.stderr, reply.exit_code) == (b"out\n", b"err\n", 3)

    start = time.monotonic()
    cri.crictl("stop", "-t", "10", cid)   # sh is not PID 1 here: SIGTERM ends it
    assert time.monotonic() - start < 8
    ctr = cri.crictl_json("inspect", cid)["status"]
    assert (ctr["state"], ctr["exitCode"], ctr["reason"]) == ("CONTAINER_EXITED", 143, "Error")
    assert ctr["finishedAt"] > ctr["startedAt"] > ctr["createdAt"]
    cri.crictl("stop", cid)   # again: nothing to do
    cri.crictl("rm", cid)
    assert cri.crictl_json("ps", "-a")["containers"] == []
    cri.call("RuntimeService/RemoveContainer", container_id=cid)   # idempotent

    cri.crictl("stopp", pod.id)
    cri.crictl("stopp", pod.id)   # kubelet stops more than once
    assert cri.crictl_json("pods")["items"][0]["state"] == "SANDBOX_NOTREADY"
    assert not os.path.exists(netns) and ipam_leases(cni_net) == []
    cri.crictl("rmp", pod.id)
    cri.call("RuntimeService/RemovePodSandbox", pod_sandbox_id=pod.id)   # idempotent
    assert cri.crictl_json("pods")["items"] == []
    assert host_veths() == veths


def test_two_containers_share_localhost_and_host_port(cri, cni_net, busybox_image, tmp_path):
    cri.start()
    busybox_image()
    port = free_port()
    pod = Pod(cri, tmp_path, port_mappings=[{"protocol": 0, "container_port": 8080, "host_port": port,
                                             "host_ip": "127.0.0.1"}]).run()
    pod.container("web", ["sh", "-c", "mkdir -p /www && echo served-by-web > /www/index.html && "
                                      "exec httpd -f -p 8080 -h /www"])
    client = pod.container("client", ["sleep", "1000"])

    def fetch():
        r = cri.crictl("exec", "-s", client, "wget", "-q", "-O", "-", "http://127.0.0.1:8080/", check=False)
        return r.returncode == 0 and r.stdout.strip() == "served-by-web"   # crictl adds a newline
    wait_for(fetch, timeout=20, what="httpd in the other container, on the pod's localhost")

    def from_host():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read() == b"served-by-web\n"
        except OSError:
            return False
    wait_for(from_host, timeout=20, what="the hostPort on 127.0.0.1")
    cri.crictl("rmp", "-f", pod.id)
    assert cri.crictl_json("ps", "-a")["containers"] == [] and ipam_leases(cni_net) == []


def test_host_network_pod(cri, busybox_image, tmp_path):
    cri.start()   # no CNI configuration: a host-network pod needs none
    busybox_image()
    pod = Pod(cri, tmp_path, linux={"security_context": {"namespace_options": {"network": 2}}}).run()
    status = cri.crictl_json("inspectp", pod.id)
    assert status["status"]["network"]["ip"] == "" and status["info"]["netns"] == ""
    cid = pod.container("c", ["sleep", "1000"])
    out = cri.crictl("exec", "-s", cid, "hostname").stdout.strip()
    assert out == os.uname().nodename
    pid = cri.crictl_json("inspect", cid)["info"]["pid"]
    assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino
    cri.crictl("rmp", "-f", pod.id)


def test_network_not_ready_refuses_pod_network(cri, tmp_path):
    cri.start()
    r = cri.crictl("runp", str(Pod(cri, tmp_path).path), check=False)
    assert r.returncode != 0 and "cni plugin not initialized" in r.stderr
    assert cri.crictl_json("pods")["items"] == []


def test_errors_and_idempotence(cri, cni_net, busybox_image, tmp_path):
    cri.start()
    busybox_image()
    from busybox_engine.cri import cri_api_pb2 as pb

    def code(method, **fields):
        with pytest.raises(GRPCError) as e:
            cri.call(method, **fields)
        return e.value.status

    assert code("RuntimeService/RunPodSandbox", config=pb.PodSandboxConfig()) == Status.INVALID_ARGUMENT
    bad_handler = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name="x", uid="u", namespace="n"))
    assert code("RuntimeService/RunPodSandbox", config=bad_handler, runtime_handler="kata") == Status.INVALID_ARGUMENT
    missing = "0" * 64
    assert code("RuntimeService/PodSandboxStatus", pod_sandbox_id=missing) == Status.NOT_FOUND
    assert code("RuntimeService/StopPodSandbox", pod_sandbox_id=missing) == Status.NOT_FOUND
    cri.call("RuntimeService/RemovePodSandbox", pod_sandbox_id=missing)
    assert code("RuntimeService/ContainerStatus", container_id=missing) == Status.NOT_FOUND
    assert code("RuntimeService/StopContainer", container_id=missing) == Status.NOT_FOUND
    assert code("RuntimeService/StartContainer", container_id=missing) == Status.NOT_FOUND
    assert code("RuntimeService/ExecSync", container_id=missing, cmd=["true"]) == Status.NOT_FOUND
    cri.call("RuntimeService/RemoveContainer", container_id=missing)

    pod = Pod(cri, tmp_path).run()
    r = cri.crictl("runp", str(pod.path), check=False)   # the same name and attempt
    assert r.returncode != 0 and "reserved" in r.stderr
    sandbox_config = pb.PodSandboxConfig()
    assert code("RuntimeService/CreateContainer", pod_sandbox_id=missing,
                config=pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"), image=pb.ImageSpec(image="busybox")),
                sandbox_config=sandbox_config) == Status.NOT_FOUND
    assert code("RuntimeService/CreateContainer", pod_sandbox_id=pod.id,
                config=pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"), image=pb.ImageSpec(image="nope:1")),
                sandbox_config=sandbox_config) == Status.NOT_FOUND
    assert code("RuntimeService/CreateContainer", pod_sandbox_id=pod.id,
                config=pb.ContainerConfig(image=pb.ImageSpec(image="busybox")),
                sandbox_config=sandbox_config) == Status.INVALID_ARGUMENT
    cid = pod.container("c", ["sleep", "1000"])
    assert code("RuntimeService/StartContainer", container_id=cid) == Status.FAILED_PRECONDITION
    with pytest.raises(GRPCError) as e:
        cri.call("RuntimeService/ExecSync", container_id=cid, cmd=["sleep", "5"], timeout=1)
    assert e.value.status == Status.DEADLINE_EXCEEDED
    cri.crictl("stop", "-t", "0", cid)
    assert code("RuntimeService/ExecSync", container_id=cid, cmd=["true"]) == Status.FAILED_PRECONDITION
    cri.crictl("stopp", pod.id)
    assert code("RuntimeService/CreateContainer", pod_sandbox_id=pod.id,
                config=pb.ContainerConfig(metadata=pb.ContainerMetadata(name="d"), image=pb.ImageSpec(image="busybox")),
                sandbox_config=sandbox_config) == Status.FAILED_PRECONDITION
    cri.crictl("rmp", pod.id)   # removes the container too
    assert cri.crictl_json("ps", "-a")["containers"] == []


def test_stats_and_log_reopen(cri, cni_net, busybox_image, tmp_path):
    cri.start()
    busybox_image()
    pod = Pod(cri, tmp_path).run()
    cid = pod.container("c", ["sh", "-c", "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.2; done"])
    stats = cri.crictl_json("stats", "--id", cid)["stats"]
    assert len(stats) == 1 and stats[0]["attributes"]["id"] == cid
    assert int(stats[0]["memory"]["workingSetBytes"]["value"]) > 0
    assert int(stats[0]["cpu"]["usageCoreNanoSeconds"]["value"]) > 0
    reply = cri.call("RuntimeService/PodSandboxStats", pod_sandbox_id=pod.id)
    assert reply.stats.linux.process.process_count.value >= 2
    assert [c.attributes.id for c in reply.stats.linux.containers] == [cid]
    assert reply.stats.linux.network.default_interface.name == "eth0"
    # kubelet's rotation: rename, then ask for the file again
    log = pod.logs / "c" / "0.log"
    wait_for(lambda: log.exists() and log.stat().st_size > 0, what="log lines")
    os.rename(log, str(log) + ".1")
    cri.call("RuntimeService/ReopenContainerLog", container_id=cid)
    wait_for(lambda: log.exists() and "stdout F line" in log.read_text(), what="lines in the reopened log")
    cri.crictl("rmp", "-f", pod.id)


def test_created_containers_update_stop_and_removal(cri, cni_net, busybox_image, tmp_path):
    """A created container's limits change before it starts; one removed, or
    stopped with its pod, before it ever started leaves no process or cgroup."""
    cri.start()
    busybox_image()
    pod = Pod(cri, tmp_path).run()

    def cgroup(cid):
        cg = cri.crictl_json("inspect", cid)["info"]["runtimeSpec"]["linux"]["cgroupsPath"]
        return f"/sys/fs/cgroup/memory{cg}"

    def procs(path):
        try:
            with open(f"{path}/cgroup.procs") as f:
                return f.read().split()
        except FileNotFoundError:
            return None

    a = pod.container("a", ["sleep", "1000"], start=False, log_path="")   # no log, as critest's containers
    cri.crictl("update", "--memory", str(96 << 20), a)
    cri.crictl("start", a)
    path_a = cgroup(a)
    with open(f"{path_a}/memory.limit_in_bytes") as f:
        assert int(f.read()) == 96 << 20
    assert cri.crictl("exec", "-s", a, "echo", "up").stdout.strip() == "up"

    b = pod.container("b", ["sleep", "1000"], start=False)
    path = cgroup(b)
    assert cri.crictl_json("inspect", b)["status"]["state"] == "CONTAINER_CREATED"
    cri.crictl("rm", b)
    assert procs(path) is None
    assert cri.crictl("inspect", b, check=False).returncode != 0

    c = pod.container("c", ["sleep", "1000"], start=False)
    path = cgroup(c)
    cri.crictl("stopp", pod.id)
    assert cri.crictl_json("inspect", c)["status"]["state"] == "CONTAINER_EXITED"
    assert not procs(path)
    assert cri.crictl("start", c, check=False).returncode != 0
    cri.crictl("rmp", pod.id)
    assert procs(path) is None and procs(path_a) is None


def test_pods_survive_a_containerd_kill(cri, cni_net, busybox_image, tmp_path):
    cri.start()
    busybox_image()
    veths = host_veths()
    pod = Pod(cri, tmp_path).run()
    (pod_veth,) = host_veths() - veths
    cid = pod.container("c", ["sleep", "1000"])
    before = cri.crictl_json("inspectp", pod.id)
    ctr_pid = cri.crictl_json("inspect", cid)["info"]["pid"]
    cri.containerd.stop(signal.SIGKILL)
    assert os.path.exists(f"/proc/{ctr_pid}")
    cri.start()
    after = cri.crictl_json("inspectp", pod.id)
    assert after["status"]["state"] == "SANDBOX_READY"
    assert after["status"]["network"] == before["status"]["network"]
    ctr = cri.crictl_json("inspect", cid)
    assert ctr["status"]["state"] == "CONTAINER_RUNNING" and ctr["info"]["pid"] == ctr_pid
    assert cri.crictl("exec", "-s", cid, "echo", "still").stdout.strip() == "still"
    # an exit while containerd is down is seen after it; a pod network
    # broken meanwhile fails its CNI CHECK, and the log tells
    cri.containerd.stop(signal.SIGKILL)
    os.kill(ctr_pid, signal.SIGKILL)
    subprocess.run(["ip", "link", "del", pod_veth], check=True)   # its peer, the pod's eth0, goes too
    cri.start()
    wait_for(lambda: cri.crictl_json("inspect", cid)["status"]["state"] == "CONTAINER_EXITED",
             what="the exit seen after the restart")
    assert cri.crictl_json("inspect", cid)["status"]["exitCode"] == 137
    log = tmp_path / "containerd.log"
    wait_for(lambda: f"the network of sandbox {pod.id} fails its check" in log.read_text(),
             what="the CNI CHECK's complaint")
    assert log.read_text().count("fails its check") == 1   # not after the first restart
    cri.crictl("rmp", "-f", pod.id)
    assert ipam_leases(cni_net) == []
    assert not subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode or True


def test_configured_sandbox_image(cri, cni_net, busybox_image, rootfs_template, tmp_path):
    """--cri-sandbox-image: pulled with the first pod, its command holds the namespaces."""
    from tests.fixtures.images import docker_archive
    from tests.fixtures.registry import RegistryServer
    registry = RegistryServer(tmp_path / "registry").start()
    try:
        registry.push_archive(docker_archive(rootfs_template, str(tmp_path / "pause.tar"),
                                             cmd=("sleep", "100000")), "pause:3.9")
        image = f"{registry.address}/pause:3.9"
        cri.start("--cri-sandbox-image", image)
        busybox_image()
        pod = Pod(cri, tmp_path).run()
        status = cri.crictl_json("inspectp", pod.id)
        assert status["status"]["state"] == "SANDBOX_READY" and status["info"]["image"] == image
        with open(f"/proc/{status['info']['pid']}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[:2] == [b"sleep", b"100000"]
        assert image in [t for i in cri.crictl_json("images")["images"] for t in i["repoTags"]]
        cid = pod.container("c", ["sleep", "1000"])
        assert cri.crictl("exec", "-s", cid, "hostname").stdout.strip() == "p1"
        cri.crictl("rmp", "-f", pod.id)
    finally:
        registry.stop()


def test_security_context_and_resources(cri, cni_net, busybox_image, tmp_path):
    cri.start()
    busybox_image()
    pod = Pod(cri, tmp_path, linux={"sysctls": {"net.ipv4.ip_unprivileged_port_start": "80"}}).run()
    cid = pod.container("c", ["sleep", "1000"], linux={
        "security_context": {"run_as_user": {"value": 1000}, "run_as_group": {"value": 1000},
                             "supplemental_groups": [2000], "readonly_rootfs": True, "no_new_privs": True,
                             "capabilities": {"drop_capabilities": ["ALL"], "add_capabilities": ["NET_BIND_SERVICE"]},
                             "seccomp": {"profile_type": 0}},
        "resources": {"cpu_shares": 512, "memory_limit_in_bytes": 64 << 20}})

    def sh(cmd):
        return cri.crictl("exec", "-s", cid, "sh", "-c", cmd, check=False)
    assert sh("id").stdout.strip() == "uid=1000 gid=1000 groups=2000"
    r = sh("touch /x")
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    status = sh("cat /proc/self/status").stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert int(fields["CapBnd"], 16) == 1 << 10   # CAP_NET_BIND_SERVICE alone
    assert fields["NoNewPrivs"].strip() == "1" and fields["Seccomp"].strip() == "2"
    assert sh("cat /proc/sys/net/ipv4/ip_unprivileged_port_start").stdout.strip() == "80"
    spec = cri.crictl_json("inspect", cid)["info"]["runtimeSpec"]
    cg = spec["linux"]["cgroupsPath"]
    with open(f"/sys/fs/cgroup/memory{cg}/memory.limit_in_bytes") as f:
        assert int(f.read()) == 64 << 20
    cri.crictl("update", "--memory", str(128 << 20), "--cpu-share", "256", cid)
    with open(f"/sys/fs/cgroup/memory{cg}/memory.limit_in_bytes") as f:
        assert int(f.read()) == 128 << 20
    with open(f"/sys/fs/cgroup/cpu{cg}/cpu.shares") as f:
        assert int(f.read()) == 256
    res = cri.crictl_json("inspect", cid)["status"]["resources"]["linux"]
    assert int(res["memoryLimitInBytes"]) == 128 << 20 and int(res["cpuShares"]) == 256
    cri.crictl("rmp", "-f", pod.id)


def test_container_events(cri, cni_net, busybox_image, tmp_path):
    """GetContainerEvents streams what happens, with the pod's statuses."""
    cri.start()
    busybox_image()
    events = subprocess.Popen(
        [cri.crictl_path, "--runtime-endpoint", f"unix://{cri.sock}", "events", "-o", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)   # subscribed before anything happens
        pod = Pod(cri, tmp_path).run()
        cid = pod.container("c", ["sleep", "1000"])
        cri.crictl("stop", "-t", "0", cid)
        cri.crictl("rm", cid)
        cri.crictl("rmp", "-f", pod.id)
        time.sleep(1)
    finally:
        events.terminate()
        out, _ = events.communicate(timeout=30)
    decoder, docs, pos = json.JSONDecoder(), [], 0
    while True:
        rest = out[pos:].lstrip()
        if not rest:
            break
        doc, used = decoder.raw_decode(rest)
        docs.append(doc)
        pos = len(out) - len(rest) + used
    seen = [(d["containerId"], d.get("containerEventType", "CONTAINER_CREATED_EVENT")) for d in docs]
    assert seen == [(pod.id, "CONTAINER_CREATED_EVENT"), (pod.id, "CONTAINER_STARTED_EVENT"),
                    (cid, "CONTAINER_CREATED_EVENT"), (cid, "CONTAINER_STARTED_EVENT"),
                    (cid, "CONTAINER_STOPPED_EVENT"), (cid, "CONTAINER_DELETED_EVENT"),
                    (pod.id, "CONTAINER_STOPPED_EVENT"), (pod.id, "CONTAINER_DELETED_EVENT")], seen
    started = docs[3]
    assert started["podSandboxStatus"]["id"] == pod.id
    assert [c["state"] for c in started["containersStatuses"]] == ["CONTAINER_RUNNING"]


@pytest.mark.parametrize("propagation", ["PROPAGATION_PRIVATE", "PROPAGATION_HOST_TO_CONTAINER",
                                         "PROPAGATION_BIDIRECTIONAL"])
def test_volume_mount_propagation(cri, cni_net, busybox_image, tmp_path, propagation):
    """A host mount made under a volume reaches the container unless the
    volume is private; one the container makes reaches the host only
    through a bidirectional volume, as containerd's CRI plugin does it."""
    from busybox_engine.cri import cri_api_pb2 as pb
    cri.start()
    busybox_image()
    vol, src = tmp_path / "vol", tmp_path / "src"
    (vol / "from-host").mkdir(parents=True)
    src.mkdir()
    (src / "flag").write_text("x")
    made = []
    try:
        subprocess.run(["mount", "--bind", str(vol), str(vol)], check=True)
        made.append(vol)
        private = propagation == "PROPAGATION_PRIVATE"
        subprocess.run(["mount", "--make-rprivate" if private else "--make-rshared", str(vol)], check=True)
        pod = Pod(cri, tmp_path, linux={"security_context": {"privileged": True}}).run()
        cid = pod.container("c", ["sleep", "1000"], linux={"security_context": {"privileged": True}},
                            mounts=[{"host_path": str(vol), "container_path": "/vol",
                                     "propagation": pb.MountPropagation.Value(propagation)}])
        assert cri.crictl_json("inspect", cid)["status"]["mounts"][0]["propagation"] == propagation
        subprocess.run(["mount", "--bind", str(src), str(vol / "from-host")], check=True)
        made.insert(0, vol / "from-host")
        seen = cri.crictl("exec", "-s", cid, "ls", "/vol/from-host").stdout.split()
        assert seen == ([] if private else ["flag"])
        cri.crictl("exec", "-s", cid, "sh", "-c", "mkdir /vol/from-ctr && mount -t tmpfs ctr /vol/from-ctr && "
                   "touch /vol/from-ctr/made")
        back = sorted(os.listdir(vol / "from-ctr"))
        if back:
            made.insert(0, vol / "from-ctr")
        assert back == (["made"] if propagation == "PROPAGATION_BIDIRECTIONAL" else [])
        cri.crictl("rmp", "-f", pod.id)
    finally:
        for path in made:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_propagating_volume_needs_a_propagating_host_mount(cri, cni_net, busybox_image, tmp_path):
    cri.start()
    busybox_image()
    vol = tmp_path / "vol"
    vol.mkdir()
    subprocess.run(["mount", "--bind", str(vol), str(vol)], check=True)
    try:
        subprocess.run(["mount", "--make-private", str(vol)], check=True)
        pod = Pod(cri, tmp_path, linux={"security_context": {"privileged": True}}).run()
        for mode in (1, 2):   # HOST_TO_CONTAINER, BIDIRECTIONAL
            path = tmp_path / f"ctr{mode}.json"
            path.write_text(json.dumps({"metadata": {"name": f"c{mode}"}, "image": {"image": "busybox"},
                                        "command": ["sleep", "1000"], "linux": {},
                                        "mounts": [{"host_path": str(vol), "container_path": "/vol",
                                                    "propagation": mode}]}))
            r = cri.crictl("create", pod.id, str(path), str(pod.path), check=False)
            assert r.returncode != 0 and f"is mounted on '{vol}' but it is not a shared" in r.stderr, r.stderr
        cri.crictl("rmp", "-f", pod.id)
    finally:
        subprocess.run(["umount", "-l", str(vol)], capture_output=True)
