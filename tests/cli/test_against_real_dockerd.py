"""Our docker client against Debian's real dockerd 20.10, beside the real
client on the same daemon: what a user types gets the same output and exit
status from both (the real daemon makes every answer, so only the client
differs). Runs use --network none: that dockerd has no bridge here."""
import os
import subprocess

REAL = "/usr/bin/docker"


def _run(argv, host, input=None):
    env = dict(os.environ, DOCKER_HOST=host)
    return subprocess.run(argv, capture_output=True, text=True, env=env, input=input, timeout=120)


def test_our_client_drives_the_real_dockerd(engine, real_dockerd, busybox_archive):
    host = real_dockerd.host

    def ours(*args, input=None):
        return _run(engine.argv("docker", *args), host, input)

    def real(*args, input=None):
        return _run([REAL, *args], host, input)

    def same(*args, input=None):
        for _ in range(3):   # a second ticking over between the two shifts "N seconds ago"
            a, b = ours(*args, input=input), real(*args, input=input)
            if (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr):
                return a
        assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr), args

    r = ours("load", "-i", busybox_archive)
    assert (r.returncode, r.stdout) == (0, "Loaded image: busybox:latest\n"), r.stderr
    same("images")
    same("images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}} {{.CreatedAt}}")
    same("history", "busybox")
    same("image", "inspect", "-f", "{{.Created}} {{.Config.Cmd}} {{.Size}}", "busybox")
    r = same("run", "--rm", "--network", "none", "busybox", "echo", "hello")
    assert r.stdout == "hello\n"
    same("run", "--rm", "--network", "none", "-i", "busybox", "cat", input="piped\n")
    assert same("run", "--rm", "--network", "none", "busybox", "sh", "-c", "exit 3").returncode == 3
    assert same("run", "--rm", "--network", "none", "busybox", "/nonexistent").returncode == 127
    assert same("run", "--pull", "never", "--network", "none", "nosuch:image").returncode == 125
    r = ours("run", "-d", "--name", "web", "--network", "none", "-e", "A=1", "-l", "k=v", "busybox",
             "sh", "-c", "echo started; sleep 100")
    assert r.returncode == 0, r.stderr
    same("ps")
    same("ps", "-a", "--no-trunc", "--format", "{{.Names}} {{.Command}} {{.Labels}}")
    same("inspect", "-f", "{{.Name}} {{.Config.Env}} {{.HostConfig.NetworkMode}} {{.State.Running}}", "web")
    same("exec", "web", "sh", "-c", "echo $A; exit 4")
    same("logs", "web")
    same("top", "web", "-o", "comm")
    same("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "web")
    same("port", "web")
    same("diff", "web")
    same("pause", "web")
    same("unpause", "web")
    same("rename", "web", "web2")
    same("update", "--memory", "64m", "--memory-swap", "128m", "web2")
    same("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}", "web2")
    same("volume", "create", "vol1")
    same("volume", "ls")
    same("volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "vol1")
    same("network", "ls", "--format", "{{.Name}} {{.Driver}}")
    same("version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}")
    same("info", "--format", "{{.Containers}} {{.Images}} {{.Driver}}")
    same("system", "df", "--format", "{{.Type}} {{.TotalCount}}")
    r = ours("stop", "-t", "1", "web2")
    assert (r.returncode, r.stdout) == (0, "web2\n"), r.stderr
    same("wait", "web2")
    same("rm", "web2")
    same("rm", "web2")            # gone: the daemon's error, exit 1
    same("volume", "rm", "vol1")
    same("inspect", "nosuch")
    same("tag", "busybox", "busybox:two")
    same("rmi", "busybox:two")


def test_files_images_and_events_against_the_real_dockerd(engine, real_dockerd, busybox_archive, tmp_path):
    import time
    host = real_dockerd.host

    def ours(*args, input=None):
        return _run(engine.argv("docker", *args), host, input)

    def same(*args, input=None):
        for _ in range(3):
            a, b = ours(*args, input=input), _run([REAL, *args], host, input)
            if (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr):
                return a
        assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr), args

    since = str(int(time.time()) - 1)
    assert ours("load", "-q", "-i", busybox_archive).returncode == 0
    assert ours("create", "--name", "box", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2").returncode == 0
    same("start", "-a", "box")
    (tmp_path / "in.txt").write_text("payload\n")
    assert ours("cp", str(tmp_path / "in.txt"), "box:/in.txt").returncode == 0
    r = ours("cp", "box:/in.txt", "-")
    assert r.returncode == 0 and "payload" in r.stdout
    same("diff", "box")
    r = ours("commit", "-m", "msg", "-c", "ENV X=1", "box", "committed:v1")
    assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    same("image", "inspect", "-f", "{{.Comment}} {{.Config.Env}}", "committed:v1")
    same("history", "--format", "{{.CreatedBy}} {{.Comment}}", "committed:v1")
    r = ours("export", "-o", str(tmp_path / "box.tar"), "box")
    assert r.returncode == 0 and (tmp_path / "box.tar").stat().st_size > 1 << 20
    r = ours("save", "-o", str(tmp_path / "img.tar"), "committed:v1")
    assert r.returncode == 0, r.stderr
    same("rmi", "committed:v1")
    r = ours("load", "-i", str(tmp_path / "img.tar"))
    assert (r.returncode, r.stdout) == (0, "Loaded image: committed:v1\n"), r.stderr
    r = ours("import", str(tmp_path / "box.tar"), "imported:v1")
    assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    same("images", "--format", "{{.Repository}}:{{.Tag}}")
    same("rm", "box")
    same("events", "--since", since, "--until", str(int(time.time()) + 1), "--filter", "type=container",
         "--format", "{{.Action}} {{.Actor.Attributes.name}}")
    same("container", "prune", "-f")
    same("image", "prune", "-f")
    same("system", "df")


def test_terminal_resize_detach_and_attach_against_the_real_dockerd(engine, real_dockerd, busybox_archive):
    import fcntl
    import signal
    import struct
    import termios
    from tests.engine_api.test_tty import Terminal
    assert _run(engine.argv("docker", "load", "-q", "-i", busybox_archive), real_dockerd.host).returncode == 0

    def term(*args):
        return Terminal(real_dockerd, argv=engine.argv("docker", *args), env=engine.env)
    t = term("run", "-it", "--name", "tt", "--network", "none", "busybox", "sh")
    try:
        t.expect(b"# ")
        fcntl.ioctl(t.master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        t.proc.send_signal(signal.SIGWINCH)    # the pty is not its controlling terminal
        t.type(b"stty size\r")
        t.expect(b"40 100")
        t.type(b"\x10\x11")
        assert t.wait() == 0, t.seen
    finally:
        t.close()
    t = term("attach", "tt")
    try:
        t.type(b"echo back-$((2+3))\r")
        t.expect(b"back-5")
        t.type(b"exit 5\r")
        assert t.wait() == 5, t.seen
    finally:
        t.close()
    r = _run(engine.argv("docker", "rm", "tt"), real_dockerd.host)
    assert (r.returncode, r.stdout) == (0, "tt\n"), r.stderr


def test_push_and_pull_through_the_real_dockerd(engine, real_dockerd, busybox_archive, tmp_path):
    from tests.fixtures.registry import RegistryServer
    registry = RegistryServer(tmp_path / "registry").start()
    try:
        host = real_dockerd.host
        target = f"{registry.address}/real/box:v1"

        def ours(*args):
            return _run(engine.argv("docker", *args), host)

        def real(*args):
            return _run([REAL, *args], host)
        assert ours("load", "-q", "-i", busybox_archive).returncode == 0
        assert ours("tag", "busybox", target).returncode == 0
        r = ours("push", target)
        assert r.returncode == 0 and "v1: digest: sha256:" in r.stdout, r.stdout + r.stderr
        for args in (["push", target], ["push", "-q", target], ["pull", target], ["pull", "-q", target],
                     ["pull", f"{registry.address}/real/nothing:here"]):
            a, b = ours(*args), real(*args)
            assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr), args
        # a fresh pull: the same lines from both clients
        outs = []
        for cli in (ours, real):
            assert real("rmi", target, "busybox").returncode == 0
            r = cli("pull", target)
            assert r.returncode == 0, r.stderr
            outs.append(r.stdout)
            assert real("tag", target, "busybox").returncode == 0
        # the daemon's own messages vary with timing ("Verifying Checksum" or not): compare the rest
        transient = ("Verifying Checksum", "Download complete", "Downloading", "Waiting", "Pulling fs layer")
        steady = [[line for line in o.splitlines() if not line.endswith(transient)] for o in outs]
        assert steady[0] == steady[1]
        assert outs[0].endswith(f"Status: Downloaded newer image for {target}\n{target}\n"), outs[0]
    finally:
        registry.stop()
