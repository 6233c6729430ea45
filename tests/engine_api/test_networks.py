"""The networks every dockerd has, and containers sharing another's
namespaces (--network/--pid/--ipc container:NAME), through the real CLI."""
import json


def test_network_ls_inspect_and_refusals(dockerd):
    r = dockerd.docker("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}")
    assert sorted(r.stdout.splitlines()) == ["bridge bridge local", "host host local", "none null local"]
    nets = json.loads(dockerd.docker("network", "inspect", "bridge", "none").stdout)
    assert [n["Name"] for n in nets] == ["bridge", "none"] and len(nets[0]["Id"]) == 64
    short = nets[1]["Id"][:12]
    assert json.loads(dockerd.docker("network", "inspect", short).stdout)[0]["Name"] == "none"
    r = dockerd.docker("network", "ls", "-q", "--filter", "driver=null")
    assert r.stdout.strip() == short
    r = dockerd.docker("network", "rm", "bridge")
    assert r.returncode == 1 and "pre-defined network and cannot be removed" in r.stderr
    r = dockerd.docker("network", "inspect", "nosuch")
    assert r.returncode == 1
    r = dockerd.docker("run", "-d", "--name", "n1", "--network", "none", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    info = json.loads(dockerd.docker("inspect", "n1").stdout)[0]
    assert list(info["NetworkSettings"]["Networks"]) == ["none"]
    assert info["NetworkSettings"]["Networks"]["none"]["NetworkID"] == nets[1]["Id"]
    none = json.loads(dockerd.docker("network", "inspect", "none").stdout)[0]
    assert list(none["Containers"]) == [info["Id"]]
    r = dockerd.docker("run", "--rm", "--network", "nosuch", "busybox", "true")
    assert r.returncode == 125 and "nosuch" in r.stderr
    dockerd.docker("rm", "-f", "n1")


def test_sharing_another_containers_namespaces(dockerd):
    r = dockerd.docker("run", "-d", "--name", "base", "--network", "none", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    pid = json.loads(dockerd.docker("inspect", "base").stdout)[0]["State"]["Pid"]
    import os
    want = {ns: os.readlink(f"/proc/{pid}/ns/{ns}") for ns in ("net", "pid", "ipc")}
    r = dockerd.docker("run", "--rm", "--network", "container:base", "--pid", "container:base",
                       "--ipc", "container:base", "busybox", "sh", "-c",
                       "for n in net pid ipc; do readlink /proc/self/ns/$n; done; ps -o comm | grep -c sleep")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[:3] == [want["net"], want["pid"], want["ipc"]] and lines[3] == "1"
    assert dockerd.docker("stop", "-t", "0", "base").returncode == 0
    r = dockerd.docker("run", "--rm", "--network", "container:base", "busybox", "true")
    assert r.returncode != 0 and "non running container" in r.stderr
    r = dockerd.docker("run", "--rm", "--pid", "container:nosuch", "busybox", "true")
    assert r.returncode == 125 and "No such container" in r.stderr
    dockerd.docker("rm", "-f", "base")
