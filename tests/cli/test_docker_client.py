"""Our docker client beside the real one (Debian's 20.10) on the same
daemon: the same output and exit codes for the same command lines."""
import json
import os
import subprocess

import pytest

REAL = "/usr/bin/docker"


def ours(dockerd, *args, input=None):
    e = dict(dockerd.engine.env or os.environ, DOCKER_HOST=dockerd.host,
             DOCKER_CONFIG=str(dockerd.tmp / "dockercfg"))
    return subprocess.run(dockerd.engine.argv("docker", *args), capture_output=True, text=True, env=e,
                          input=input, timeout=60)


def both(dockerd, *args):
    return ours(dockerd, *args), dockerd.docker(*args, cli=REAL)


def same(dockerd, *args):
    """Byte for byte; tried again when a second ticked over between the two
    runs ("Less than a second ago" then "1 second ago" shifts the columns)."""
    for _ in range(3):
        a, b = both(dockerd, *args)
        # logrus lines the Go client adds on a failed run ("error waiting for
        # container: context canceled") carry a time: not ours to copy
        b.stderr = "".join(line for line in b.stderr.splitlines(True) if not line.startswith('time="'))
        if (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr):
            return a
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr), args


def test_tables_formats_and_inspect_as_the_real_client(dockerd):
    if not os.path.exists(REAL):
        pytest.fail("Debian's docker CLI is missing: .ci/run installs docker.io")
    assert dockerd.docker("run", "-d", "--name", "web", "-l", "tier=front", "busybox", "sleep", "300").returncode == 0
    assert dockerd.docker("create", "--name", "idle", "busybox", "sh", "-c",
                          "echo a long command line that is cut").returncode == 0
    assert dockerd.docker("tag", "busybox", "localhost:5000/team/box:v1").returncode == 0
    for args in (["ps"], ["ps", "-a"], ["ps", "-a", "--no-trunc"], ["ps", "-q"], ["ps", "-aq"],
                 ["container", "ls", "-a"], ["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Label \"tier\"}}"],
                 ["ps", "-a", "--format", "table {{.Names}}\\t{{.Image}}\\t{{.Command}}"],
                 ["ps", "-a", "-f", "status=created"], ["ps", "-a", "-f", "name=web", "--format", "{{json .Names}}"],
                 ["ps", "-n", "1"], ["images"], ["images", "-q"], ["image", "ls", "busybox"],
                 ["images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"],
                 ["images", "--format", "table {{.Repository}}\\t{{.Tag}}"],
                 ["inspect", "web"], ["inspect", "web", "busybox"], ["inspect", "-f", "{{.State.Status}} {{.Name}}", "web", "idle"],
                 ["inspect", "-f", "{{json .Config.Labels}}|{{range .Config.Cmd}}<{{.}}>{{end}}", "web"],
                 ["inspect", "--type", "image", "-f", "{{.RepoTags}}", "busybox"],
                 ["inspect", "nosuch"], ["inspect", "web", "nosuch"], ["inspect", "-f", "{{.Id", "web"],
                 ["ps", "--bogus"], ["ps", "extra"], ["stop"], ["rename", "one"], ["ps", "-f", "nokey"]):
        same(dockerd, *args)


def test_lifecycle_verbs_as_the_real_client(dockerd):
    assert dockerd.docker("run", "-d", "--name", "aa", "busybox", "sleep", "300").returncode == 0
    assert dockerd.docker("create", "--name", "bb", "busybox", "true").returncode == 0
    r = ours(dockerd, "pause", "aa")
    assert (r.returncode, r.stdout) == (0, "aa\n")
    assert json.loads(dockerd.docker("inspect", "aa").stdout)[0]["State"]["Status"] == "paused"
    assert ours(dockerd, "unpause", "aa").stdout == "aa\n"
    assert ours(dockerd, "start", "bb").stdout == "bb\n"
    assert ours(dockerd, "wait", "bb").stdout == "0\n"
    r = ours(dockerd, "rename", "bb", "cc")
    assert r.returncode == 0 and r.stdout == ""
    assert ours(dockerd, "kill", "-s", "KILL", "aa").stdout == "aa\n"
    assert ours(dockerd, "wait", "aa").stdout == "137\n"
    assert ours(dockerd, "restart", "-t", "1", "aa").stdout == "aa\n"
    assert ours(dockerd, "stop", "-t", "1", "aa").stdout == "aa\n"
    assert ours(dockerd, "tag", "busybox", "mine:1").returncode == 0
    r = ours(dockerd, "rmi", "mine:1")
    assert (r.returncode, r.stdout) == (0, "Untagged: mine:1\n")
    for args in (["stop", "nosuch"], ["kill", "nosuch"], ["rm", "nosuch"], ["rmi", "nosuch:1"],
                 ["pause", "cc"], ["wait", "nosuch"], ["rename", "nosuch", "x"]):
        same(dockerd, *args)
    r = ours(dockerd, "rm", "aa", "cc")
    assert (r.returncode, r.stdout) == (0, "aa\ncc\n")
    assert dockerd.docker("ps", "-aq").stdout == ""


def test_help_and_errors_without_a_daemon(engine, tmp_path):
    env = dict(engine.env or os.environ, DOCKER_HOST=f"unix://{tmp_path}/none.sock")
    run = lambda *a: subprocess.run(engine.argv("docker", *a), capture_output=True, text=True, env=env)  # noqa: E731
    real = lambda *a: subprocess.run([REAL, *a], capture_output=True, text=True, env=env)  # noqa: E731
    for args in (["ps"], ["ps", "--bogus"], ["stop"], ["rm", "-z", "x"], ["stop", "--help"], ["images", "-h"],
                 ["ps", "-n", "x"]):
        a, b = run(*args), real(*args)
        assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr), args
    r = run("frobnicate")
    assert r.returncode == 1 and "'frobnicate' is not a docker command" in r.stderr


def test_run_and_create_as_the_real_client(dockerd):
    r = ours(dockerd, "run", "--rm", "busybox", "echo", "hello")
    assert (r.returncode, r.stdout, r.stderr) == (0, "hello\n", "")
    r = ours(dockerd, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    r = ours(dockerd, "run", "-i", "--rm", "busybox", "sh", "-c", "tr a-z A-Z; echo done", input="piped in\n")
    assert (r.returncode, r.stdout) == (0, "PIPED IN\ndone\n")
    r = ours(dockerd, "run", "-d", "--name", "bg", "-e", "A=1", "-l", "k=v", "-m", "8m", "--restart",
             "on-failure:2", "-w", "/tmp", "-u", "1:2", "--stop-timeout", "3", "busybox", "sleep", "300")
    assert r.returncode == 0 and len(r.stdout.strip()) == 64, r.stderr
    info = json.loads(dockerd.docker("inspect", "bg").stdout)[0]
    assert info["State"]["Running"] and "A=1" in info["Config"]["Env"]
    assert info["Config"]["Labels"] == {"k": "v"} and info["HostConfig"]["Memory"] == 8 << 20
    assert info["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert (info["Config"]["WorkingDir"], info["Config"]["User"], info["Config"]["StopTimeout"]) == ("/tmp", "1:2", 3)
    r = ours(dockerd, "create", "--name", "made", "--read-only", "--tmpfs", "/run:size=1m", "busybox", "true")
    assert r.returncode == 0 and len(r.stdout.strip()) == 64
    hc = json.loads(dockerd.docker("inspect", "made").stdout)[0]["HostConfig"]
    assert hc["ReadonlyRootfs"] and hc["Tmpfs"] == {"/run": "size=1m"}
    # the same refusals, words and exit codes as Docker's client
    for args in (["run", "busybox", "nosuchcommand"], ["run", "--name", "bg", "busybox", "true"],
                 ["run", "--rm", "-p", "abc", "busybox"], ["run", "--ulimit", "nofile", "busybox"],
                 ["run", "-e", "=x", "busybox"], ["run", "--memory-swappiness", "200", "busybox"],
                 ["run", "-d", "-a", "stdout", "busybox"], ["run", "-m", "1q", "busybox"],
                 ["run", "--env-file", "/nonexistent", "busybox"], ["create"], ["run", "--pull", "never", "nosuch:1"],
                 ["run", "--rm", "busybox", "/etc/passwd"]):
        same(dockerd, *args)
    assert dockerd.docker("rm", "-f", "bg", "made").returncode == 0


def test_run_it_on_a_terminal_and_detach(dockerd):
    from tests.engine_api.test_tty import Terminal

    def term(*args):
        return Terminal(dockerd, argv=dockerd.engine.argv("docker", *args), env=dockerd.engine.env)
    t = term("run", "-it", "--rm", "busybox", "sh")
    try:
        t.expect(b"# ")
        t.type(b"echo $((6*7))\r")
        t.expect(b"42")
        t.type(b"stty size; tty\r")
        t.expect(b"/dev/pts/0")
        t.type(b"exit 3\r")
        assert t.wait() == 3, t.seen
    finally:
        t.close()
    t = term("run", "-it", "--name", "stays", "busybox", "sh")
    try:
        t.expect(b"# ")
        t.type(b"\x10\x11")          # ctrl-p ctrl-q: we leave, it runs on
        assert t.wait() == 0, t.seen
    finally:
        t.close()
    assert dockerd.docker("inspect", "-f", "{{.State.Running}}", "stays").stdout == "true\n"
    assert dockerd.docker("rm", "-f", "stays").returncode == 0


def test_logs_exec_and_attach_as_the_real_client(dockerd):
    import time
    assert dockerd.docker("run", "--name", "talk", "busybox", "sh", "-c",
                          "for i in 1 2 3; do echo out$i; echo err$i >&2; done").returncode == 0
    for args in (["logs", "talk"], ["logs", "--tail", "2", "talk"], ["logs", "-n", "1", "talk"],
                 ["logs", "-t", "talk"], ["logs", "--since", "1h", "talk"], ["logs", "nosuch"],
                 ["exec", "talk", "true"], ["exec", "nosuch", "true"], ["logs"], ["exec", "talk"]):
        same(dockerd, *args)
    assert dockerd.docker("run", "-d", "--name", "live", "busybox", "sh", "-c",
                          "echo first; sleep 2; echo second").returncode == 0
    follow = subprocess.Popen(dockerd.engine.argv("docker", "logs", "-f", "live"), stdout=subprocess.PIPE, text=True,
                              env=dict(dockerd.engine.env or os.environ, DOCKER_HOST=dockerd.host))
    try:
        assert follow.stdout.readline() == "first\n"    # while it still runs
        assert follow.stdout.readline() == "second\n"
        assert follow.wait(timeout=20) == 0             # and ends with it
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert dockerd.docker("run", "-d", "--name", "box", "busybox", "sleep", "300").returncode == 0
    r = ours(dockerd, "exec", "box", "sh", "-c", "echo hi; echo oops >&2; exit 5")
    assert (r.returncode, r.stdout, r.stderr) == (5, "hi\n", "oops\n")
    r = ours(dockerd, "exec", "-i", "-e", "X=1", "-w", "/tmp", "box", "sh", "-c", "cat; echo $X; pwd", input="fed\n")
    assert (r.returncode, r.stdout) == (0, "fed\n1\n/tmp\n")
    assert ours(dockerd, "exec", "-d", "box", "touch", "/tmp/made").returncode == 0
    time.sleep(0.5)
    assert dockerd.docker("exec", "box", "ls", "/tmp/made").returncode == 0
    assert dockerd.docker("run", "-d", "--name", "later", "busybox", "sh", "-c",
                          "sleep 1; echo late; exit 7").returncode == 0
    r = ours(dockerd, "attach", "--no-stdin", "later")
    assert (r.returncode, r.stdout) == (7, "late\n")
    same(dockerd, "attach", "later")
    assert dockerd.docker("rm", "-f", "talk", "live", "box", "later").returncode == 0


@pytest.fixture
def registry(tmp_path):
    from tests.fixtures.registry import RegistryServer
    r = RegistryServer(tmp_path / "registry").start()
    yield r
    r.stop()


def test_pull_push_as_the_real_client(dockerd, registry):
    target = f"{registry.address}/cli/box:v1"
    assert dockerd.docker("tag", "busybox", target).returncode == 0
    r = ours(dockerd, "push", target)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"The push refers to repository [{registry.address}/cli/box]"
    assert "v1: digest: sha256:" in r.stdout
    for args in (["search", "busybox"], ["push", target], ["pull", target], ["pull", "-q", target], ["pull", f"{registry.address}/cli/box"],
                 ["pull", f"{registry.address}/cli/nothing:here"], ["push", "-q", target]):
        same(dockerd, *args)
    # a layer that is not here yet: the same lines as the real client prints
    for cli in ("ours", "real"):
        assert dockerd.docker("rmi", target, "busybox").returncode == 0
        a = ours(dockerd, "pull", target) if cli == "ours" else dockerd.docker("pull", target, cli=REAL)
        assert a.returncode == 0, a.stderr
        if cli == "ours":
            mine = a.stdout
        else:
            assert mine == a.stdout
        assert dockerd.docker("tag", target, "busybox").returncode == 0
    r = ours(dockerd, "run", "--rm", f"{registry.address}/cli/box:v1", "echo", "ran")
    assert r.stdout == "ran\n"


def test_login_logout_write_the_config_as_docker_does(dockerd, tmp_path):
    import warnings
    from tests.fixtures.registry import RegistryServer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("bob:" + crypt.crypt("pw", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)) + "\n")
    reg = RegistryServer(tmp_path / "private", htpasswd=str(htpasswd)).start()
    try:
        addr = reg.address
        r = ours(dockerd, "login", "-u", "bob", "--password-stdin", addr, input="bad\n")
        assert r.returncode == 1 and "401 Unauthorized" in r.stderr
        r = ours(dockerd, "login", "-u", "bob", "--password-stdin", addr, input="pw\n")
        assert r.returncode == 0 and r.stdout.endswith("Login Succeeded\n"), r.stderr
        cfg = json.loads((dockerd.tmp / "dockercfg" / "config.json").read_text())
        assert cfg["auths"][addr]["auth"] == "Ym9iOnB3"       # base64 of bob:pw
        # the real client reads what ours wrote, and ours pushes with it
        assert dockerd.docker("tag", "busybox", f"{addr}/bob/box:1").returncode == 0
        r = ours(dockerd, "push", f"{addr}/bob/box:1")
        assert r.returncode == 0, r.stderr
        assert dockerd.docker("rmi", f"{addr}/bob/box:1").returncode == 0
        assert dockerd.docker("pull", f"{addr}/bob/box:1", cli=REAL).returncode == 0
        r = ours(dockerd, "logout", addr)
        assert (r.returncode, r.stdout) == (0, f"Removing login credentials for {addr}\n")
        assert addr not in json.loads((dockerd.tmp / "dockercfg" / "config.json").read_text())["auths"]
        r = ours(dockerd, "push", f"{addr}/bob/box:1")
        assert r.returncode == 1
    finally:
        reg.stop()


def test_volumes_and_networks_as_the_real_client(dockerd):
    r = ours(dockerd, "volume", "create", "--label", "k=v", "vol1")
    assert (r.returncode, r.stdout) == (0, "vol1\n")
    assert dockerd.docker("volume", "create", "vol2").returncode == 0
    assert dockerd.docker("run", "-d", "--name", "user", "-v", "vol2:/data", "busybox", "sleep", "300").returncode == 0
    for args in (["volume", "ls"], ["volume", "ls", "-q"], ["volume", "ls", "-f", "label=k=v"],
                 ["volume", "ls", "--format", "{{.Name}}: {{.Labels}} {{.Label \"k\"}}"],
                 ["volume", "inspect", "vol1"], ["volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "vol1", "vol2"],
                 ["volume", "inspect", "nosuch"], ["volume", "rm", "vol2"], ["volume", "rm", "nosuch"],
                 ["network", "ls"], ["network", "ls", "-q"], ["network", "ls", "--no-trunc"],
                 ["network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"],
                 ["network", "inspect", "-f", "{{.Name}} {{.Driver}}", "bridge", "host", "none"],
                 ["network", "inspect", "none"], ["network", "inspect", "nosuch"], ["volume"], ["volume", "frob"]):
        same(dockerd, *args)
    r = ours(dockerd, "volume", "rm", "vol1")
    assert (r.returncode, r.stdout) == (0, "vol1\n")
    r = ours(dockerd, "volume", "prune", "-f")
    assert r.returncode == 0 and r.stdout.endswith("Total reclaimed space: 0B\n")
    assert dockerd.docker("rm", "-f", "user").returncode == 0
    r = ours(dockerd, "volume", "prune", input="y\n")
    assert r.returncode == 0 and "Deleted Volumes:\nvol2\n" in r.stdout, r.stdout


def test_container_operations_as_the_real_client(dockerd, tmp_path):
    import tarfile
    assert dockerd.docker("run", "-d", "--name", "ops", "busybox", "sh", "-c",
                          "mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && "
                          "rm /bin/true && sleep 300").returncode == 0
    import time
    time.sleep(0.5)
    for args in (["top", "ops"], ["port", "ops"], ["port", "ops", "80"], ["diff", "ops"], ["top", "nosuch"],
                 ["diff", "nosuch"], ["update", "ops"], ["cp", "ops:/nosuch", str(tmp_path)]):
        same(dockerd, *args)
    # cp both ways, into directories and onto new names, as the real client does
    clients = {"ours": lambda *a: ours(dockerd, *a), "real": lambda *a: dockerd.docker(*a, cli=REAL)}
    for who, run in clients.items():
        d = tmp_path / who
        d.mkdir()
        assert run("cp", "ops:/data", str(d)).returncode == 0
        assert run("cp", "ops:/data/a", str(d / "renamed")).returncode == 0
        assert run("cp", "ops:/data/sub/.", str(d / "contents")).returncode == 0
    listing = lambda p: sorted(str(x.relative_to(p)) + ":" + (x.read_text() if x.is_file() else "")  # noqa: E731
                               for x in p.rglob("*"))
    assert listing(tmp_path / "ours") == listing(tmp_path / "real")
    for who, run in clients.items():
        up = tmp_path / f"{who}.up"
        up.write_text(who)
        assert run("cp", str(up), f"ops:/data/{who}.txt").returncode == 0
        assert run("cp", str(up), "ops:/data/sub/").returncode == 0
    assert dockerd.docker("exec", "ops", "cat", "/data/ours.txt", "/data/real.txt", "/data/sub/ours.up",
                          "/data/sub/real.up").stdout == "oursrealoursreal"
    r = ours(dockerd, "update", "-m", "64m", "--restart", "on-failure:1", "ops")
    assert (r.returncode, r.stdout) == (0, "ops\n"), r.stderr
    hc = json.loads(dockerd.docker("inspect", "ops").stdout)[0]["HostConfig"]
    assert hc["Memory"] == 64 << 20 and hc["RestartPolicy"]["Name"] == "on-failure"
    r = ours(dockerd, "commit", "-m", "msg", "-c", "ENV X=1", "ops", "committed:v1")
    assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    img = json.loads(dockerd.docker("image", "inspect", "committed:v1").stdout)[0]
    assert img["Comment"] == "msg" and "X=1" in img["Config"]["Env"]
    out = tmp_path / "fs.tar"
    assert ours(dockerd, "export", "-o", str(out), "ops").returncode == 0
    with tarfile.open(out) as t:
        assert "data/sub/b" in t.getnames()
    r = ours(dockerd, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "ops")
    assert (r.returncode, r.stdout) == (0, "ops 1\n"), r.stderr
    r = ours(dockerd, "stats", "--no-stream", "ops")
    assert r.stdout.startswith("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT") and " ops " in r.stdout
    assert dockerd.docker("rm", "-f", "ops").returncode == 0
    assert dockerd.docker("create", "--name", "dead", "busybox").returncode == 0
    r = ours(dockerd, "container", "prune", "-f")
    assert r.returncode == 0 and "Deleted Containers:\n" in r.stdout and r.stdout.endswith("Total reclaimed space: 0B\n")
    assert dockerd.docker("rmi", "committed:v1").returncode == 0


def test_image_operations_as_the_real_client(dockerd, tmp_path):
    for args in (["history", "busybox"], ["history", "--no-trunc", "busybox"], ["history", "-q", "busybox"],
                 ["history", "-H=false", "--format", "{{.ID}} {{.Size}} {{.CreatedBy}}", "busybox"],
                 ["history", "nosuch"], ["save", "nosuch"]):
        same(dockerd, *args)
    tar = tmp_path / "bb.tar"
    r = ours(dockerd, "save", "-o", str(tar), "busybox")
    assert r.returncode == 0 and tar.stat().st_size > 1000000
    assert dockerd.docker("rmi", "busybox").returncode == 0
    r = ours(dockerd, "load", "-i", str(tar))
    assert (r.returncode, r.stdout) == (0, "Loaded image: busybox:latest\n"), r.stderr
    with open(tar, "rb") as f:
        real = subprocess.run([REAL, "load"], stdin=f, capture_output=True, text=True,
                              env=dict(os.environ, DOCKER_HOST=dockerd.host))
    assert real.stdout == r.stdout
    # import a rootfs tarball, as `docker export | docker import` does
    assert dockerd.docker("create", "--name", "src", "busybox").returncode == 0
    fs = tmp_path / "fs.tar"
    assert ours(dockerd, "export", "-o", str(fs), "src").returncode == 0
    r = ours(dockerd, "import", "-m", "imported", "-c", "CMD [\"echo\", \"from-import\"]", str(fs), "imp:1")
    assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    assert ours(dockerd, "run", "--rm", "imp:1").stdout == "from-import\n"
    with open(fs, "rb") as f:
        r = subprocess.run(dockerd.engine.argv("docker", "import", "-", "imp:2"), stdin=f, capture_output=True,
                           text=True, env=dict(dockerd.engine.env or os.environ, DOCKER_HOST=dockerd.host))
    assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    assert dockerd.docker("rm", "src").returncode == 0
    assert dockerd.docker("rmi", "imp:1").returncode == 0
    r = ours(dockerd, "image", "prune", "-f")
    assert r.returncode == 0 and r.stdout.endswith("Total reclaimed space: 0B\n") or "Deleted Images:" in r.stdout
    r = ours(dockerd, "image", "prune", "-a", "-f")
    assert r.returncode == 0 and "untagged: imp:2" in r.stdout, r.stdout


def test_system_commands_as_the_real_client(dockerd):
    assert dockerd.docker("run", "-d", "--name", "sys", "busybox", "sleep", "300").returncode == 0
    assert dockerd.docker("volume", "create", "sysvol").returncode == 0
    for args in (["info"], ["info", "--format", "{{.Containers}} {{.Driver}} {{json .Runtimes}}"],
                 ["system", "info", "-f", "{{.ServerVersion}}"], ["system", "df"], ["system", "df", "-v"],
                 ["version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}"],
                 ["inspect", "-f", "{{.ID}} {{.HostConfig.CPUShares}}", "sys"], ["info", "-f", "{{.Nope"],
                 ["system"], ["system", "df", "--format", "{{.Type}}: {{.TotalCount}}"]):
        same(dockerd, *args)
    r = ours(dockerd, "version")
    assert r.returncode == 0 and "Server: busybox-engine" in r.stdout
    # events: what happened, as the real client prints it
    assert dockerd.docker("run", "--rm", "--name", "evt", "busybox", "true").returncode == 0
    import time
    until = str(int(time.time()) + 1)
    time.sleep(1.2)
    same(dockerd, "events", "--since", "10m", "--until", until, "--filter", "container=evt")
    same(dockerd, "events", "--since", "10m", "--until", until, "--format", "{{.Type}} {{.Action}}")
    assert dockerd.docker("rm", "-f", "sys").returncode == 0
    assert dockerd.docker("create", "--name", "leftover", "busybox").returncode == 0
    r = ours(dockerd, "system", "prune", "-f", "--volumes")
    assert r.returncode == 0 and "Deleted Containers:" in r.stdout and "sysvol" in r.stdout, r.stdout


def test_start_attached_and_typed_inspect(dockerd):
    assert dockerd.docker("create", "--name", "again", "busybox", "sh", "-c", "echo run; exit 4").returncode == 0
    r = ours(dockerd, "start", "-a", "again")
    assert (r.returncode, r.stdout) == (4, "run\n")
    r = ours(dockerd, "start", "-a", "again")
    assert (r.returncode, r.stdout) == (4, "run\n")
    assert dockerd.docker("create", "-i", "--name", "fed", "busybox", "cat").returncode == 0
    r = ours(dockerd, "start", "-ai", "fed", input="through stdin\n")
    assert (r.returncode, r.stdout) == (0, "through stdin\n")
    for args in (["image", "inspect", "-f", "{{.Os}}", "busybox"], ["image", "inspect", "again"],
                 ["container", "inspect", "-f", "{{.State.ExitCode}}", "again"], ["container", "inspect", "busybox"],
                 ["start", "nosuch"]):
        same(dockerd, *args)
    assert dockerd.docker("rm", "again", "fed").returncode == 0


def test_contexts_and_tcp_with_tls(dockerd, tmp_path):
    from tests.engine_api.test_tls import _free_port, make_certs
    cfg = tmp_path / "ctxcfg"
    env = dict(dockerd.engine.env or os.environ, DOCKER_CONFIG=str(cfg))
    env.pop("DOCKER_HOST", None)

    def run(*args, real=False):
        argv = [REAL, *args] if real else dockerd.engine.argv("docker", *args)
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    r = run("context", "create", "--description", "ours", "--docker", f"host={dockerd.host}", "mine")
    assert (r.returncode, r.stdout, r.stderr) == (0, "mine\n", 'Successfully created context "mine"\n')
    r = run("context", "use", "mine")
    assert (r.returncode, r.stdout) == (0, "mine\n")
    assert run("context", "show").stdout == "mine\n"
    # the real client reads what ours wrote, and the other way round
    for args in (["context", "ls", "--format", "{{if ne .Name \"default\"}}{{.Name}} {{.Current}} "
                                               "{{.DockerEndpoint}} {{.Description}}{{end}}"],
                 ["context", "inspect", "-f", "{{.Name}} {{.Endpoints.docker.Host}}", "mine"],
                 ["ps", "-a", "--format", "{{.Names}}"]):
        a, b = run(*args), run(*args, real=True)
        assert (a.returncode, a.stdout) == (b.returncode, b.stdout), args
    assert run("--context", "default", "ps").returncode == 1       # our default socket is not running here
    r = run("context", "rm", "mine")
    assert r.returncode == 1 and "in use" in r.stderr
    assert run("context", "use", "default").returncode == 0
    assert run("context", "rm", "mine").stdout == "mine\n"
    # a remote daemon over tcp with mutual TLS, by flags and by a context
    d = make_certs(tmp_path / "certs")
    port = _free_port()
    dockerd.stop()
    dockerd.start("-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert",
                  str(d / "ca.pem"), "--tlscert", str(d / "server-cert.pem"), "--tlskey", str(d / "server-key.pem"))
    flags = ["--tlsverify", "--tlscacert", str(d / "ca.pem"), "--tlscert", str(d / "client-cert.pem"),
             "--tlskey", str(d / "client-key.pem"), "-H", f"tcp://127.0.0.1:{port}"]
    r = run(*flags, "run", "--rm", "busybox", "echo", "over tls")
    assert (r.returncode, r.stdout) == (0, "over tls\n"), r.stderr
    r = subprocess.run(dockerd.engine.argv("docker", *flags, "run", "-i", "--rm", "busybox", "sh", "-c",
                                           "cat; echo done"), input="piped\n", capture_output=True, text=True,
                       env=env, timeout=60)
    assert (r.returncode, r.stdout) == (0, "piped\ndone\n"), r.stderr
    r = run("context", "create", "remote", "--docker",
            f"host=tcp://127.0.0.1:{port},ca={d / 'ca.pem'},cert={d / 'client-cert.pem'},key={d / 'client-key.pem'}")
    assert r.returncode == 0, r.stderr
    r = run("--context", "remote", "version", "--format", "{{.Server.Os}}")
    assert (r.returncode, r.stdout) == (0, "linux\n"), r.stderr
    r = run("--context", "remote", "version", "--format", "{{.Server.Os}}", real=True)
    assert (r.returncode, r.stdout) == (0, "linux\n"), r.stderr
    r = run("--tlsverify", "--tlscacert", str(d / "ca.pem"), "-H", f"tcp://127.0.0.1:{port}", "ps")
    assert r.returncode == 1 and "Traceback" not in r.stderr     # no client certificate: refused


def test_completion_scripts_complete(engine, tmp_path):
    env = dict(engine.env or os.environ, DOCKER_HOST=f"unix://{tmp_path}/none.sock")
    script = subprocess.run(engine.argv("docker", "completion", "bash"), capture_output=True, text=True, env=env)
    assert script.returncode == 0
    (tmp_path / "c.bash").write_text(script.stdout)
    probe = ('source c.bash; COMP_WORDS=(docker vol); COMP_CWORD=1; _bbe_docker; echo "${COMPREPLY[@]}"; '
             'COMP_WORDS=(docker volume l); COMP_CWORD=2; _bbe_docker; echo "${COMPREPLY[@]}"; '
             'COMP_WORDS=(docker run --rm --na); COMP_CWORD=3; _bbe_docker; echo "${COMPREPLY[@]}"')
    r = subprocess.run(["bash", "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert r.stdout.splitlines() == ["volume", "list ls", "--name"], r.stdout + r.stderr
    for shell in ("zsh", "fish", "powershell"):
        r = subprocess.run(engine.argv("docker", "completion", shell), capture_output=True, text=True, env=env)
        assert r.returncode == 0 and "docker" in r.stdout
    # an unknown shell is cobra's: the group's usage on stdout, status 0
    r = subprocess.run(engine.argv("docker", "completion", "tcsh"), capture_output=True, text=True, env=env)
    b = subprocess.run([REAL, "completion", "tcsh"], capture_output=True, text=True, env=env)
    assert (r.returncode, r.stdout) == (b.returncode, b.stdout) and "powershell" in r.stdout


def test_pull_on_a_terminal_redraws_layer_lines(dockerd, registry):
    from tests.engine_api.test_tty import Terminal
    target = f"{registry.address}/cli/tty:v1"
    assert dockerd.docker("tag", "busybox", target).returncode == 0
    assert dockerd.docker("push", target).returncode == 0
    assert dockerd.docker("rmi", target, "busybox").returncode == 0
    layer = None
    t = Terminal(dockerd, argv=dockerd.engine.argv("docker", "pull", target), env=dockerd.engine.env)
    try:
        t.expect(b"Downloaded newer image")
        assert t.wait() == 0
    finally:
        t.close()
    text = t.seen.decode(errors="replace")
    assert "\x1b[2K\r" in text and "\x1b[1A" in text and "\x1b[1B" in text   # redrawn in place
    layer = [ln for ln in text.replace("\r", "\n").splitlines() if "Pull complete" in ln]
    assert layer and layer[0].split(":")[0].strip().strip("\x1b[2K") != ""
    assert text.rstrip().endswith(target)
    assert dockerd.docker("tag", target, "busybox").returncode == 0


def test_run_forwards_signals_to_the_container(dockerd):
    import signal
    import time
    p = subprocess.Popen(dockerd.engine.argv("docker", "run", "--rm", "--name", "trap", "busybox", "sh", "-c",
                                             "trap 'echo got-term; exit 9' TERM; echo ready; "
                                             "while :; do sleep 0.1; done"),
                         stdout=subprocess.PIPE, text=True,
                         env=dict(dockerd.engine.env or os.environ, DOCKER_HOST=dockerd.host))
    try:
        assert p.stdout.readline() == "ready\n"
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)            # to our client: it goes on to the container
        assert p.stdout.readline() == "got-term\n"
        assert p.wait(timeout=20) == 9
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_exec_it_and_attach_detach_on_a_terminal(dockerd):
    from tests.engine_api.test_tty import Terminal

    def term(*args):
        return Terminal(dockerd, argv=dockerd.engine.argv("docker", *args), env=dockerd.engine.env)
    assert dockerd.docker("run", "-dit", "--name", "bg", "busybox", "sh").returncode == 0
    t = term("exec", "-it", "bg", "sh")
    try:
        t.expect(b"# ")
        t.type(b"echo in-exec; exit 4\r")
        t.expect(b"in-exec")
        assert t.wait() == 4
    finally:
        t.close()
    t = term("attach", "bg")
    try:
        t.expect(b"/ # ")            # the prompt redrawn: the size is nudged on attach, as Docker does
        t.type(b"echo attached-$((1+1))\r")
        t.expect(b"attached-2")
        t.type(b"\x10\x11")          # ctrl-p ctrl-q: detach, the container runs on
        assert t.wait() == 1          # as the real 20.10 client ends it
        assert b"read escape sequence" in t.seen
    finally:
        t.close()
    assert dockerd.docker("inspect", "-f", "{{.State.Running}}", "bg").stdout == "true\n"
    assert dockerd.docker("rm", "-f", "bg").returncode == 0


# every command's --help, and docker's own, as 20.10 prints them
# 20.10 has no `context show`; it lists `context export`,
# `import` and `update`, which we do not have
HELP_DIFFERS = {"context show", "context"}


def test_help_is_docker_2010s_byte_for_byte(engine, tmp_path):
    from busybox_engine.cli.commands import COMMANDS, GROUPS
    env = dict(engine.env or os.environ, DOCKER_HOST=f"unix://{tmp_path}/none.sock")
    names = sorted(COMMANDS) + [f"{g} {s}" for g in sorted(GROUPS) for s in GROUPS[g]] + sorted(GROUPS)
    differ = []
    for name in names:
        if name in HELP_DIFFERS or name.split(" ", 1)[-1] in HELP_DIFFERS:
            continue
        argv = [*name.split(" "), "--help"]
        a = subprocess.run(engine.argv("docker", *argv), capture_output=True, text=True, env=env)
        b = subprocess.run([REAL, *argv], capture_output=True, text=True, env=env)
        if (a.returncode, a.stdout) != (b.returncode, b.stdout):
            differ.append(name)
    assert differ == []


def _stats_frames(argv, env, seconds: float) -> list:
    """The tables a streaming `docker stats` drew in that time (each after
    its clear-screen and cursor-home)."""
    import signal
    import time
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        time.sleep(seconds)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return out.decode().split("\033[2J\033[H")


def test_stats_streams_and_redraws_as_the_real_client(dockerd):
    assert dockerd.docker("run", "-d", "--name", "spin", "busybox", "sh", "-c", "while :; do :; done").returncode == 0
    assert dockerd.docker("run", "-d", "--name", "idle", "busybox", "sleep", "100").returncode == 0
    try:
        fmt = ["--format", "{{.Name}} {{.PIDs}} {{.CPUPerc}}"]
        env = dict(dockerd.engine.env or os.environ, DOCKER_HOST=dockerd.host)
        for argv in (dockerd.engine.argv("docker", "stats", *fmt, "spin", "idle"), [REAL, "stats", *fmt, "spin", "idle"]):
            frames = _stats_frames(argv, env, 3.5)
            # redrawn every half second after a first pause, whether or not on a terminal
            assert frames[0] == "" and len(frames) >= 3, frames
            last = frames[-2].splitlines()
            assert [line.split()[:2] for line in last] == [["spin", "1"], ["idle", "1"]], frames
            assert float(last[0].split()[2].rstrip("%")) > 20, last   # it spins: a CPU busy
        # no names: the running containers, and one started meanwhile joins
        argv = dockerd.engine.argv("docker", "stats", "--format", "{{.Name}}")
        import threading
        threading.Timer(1.0, lambda: dockerd.docker("run", "-d", "--name", "late", "busybox", "sleep", "100")).start()
        frames = _stats_frames(argv, env, 4.0)
        assert sorted(frames[-2].split()) == ["idle", "late", "spin"], frames
        r = ours(dockerd, "stats", "nosuch")
        assert (r.returncode, r.stderr) == (1, "Error response from daemon: No such container: nosuch\n")
    finally:
        dockerd.docker("rm", "-f", "spin", "idle", "late")
