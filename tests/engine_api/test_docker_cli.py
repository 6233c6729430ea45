"""The real docker CLIs drive our dockerd: run, ps, logs, exec, stop, rm,
inspect, exit codes, piped stdin."""
import json
import time

import pytest

from tests.engine_api.conftest import CLIS


@pytest.mark.parametrize("cli", CLIS)
def test_run_rm_echo_with_each_cli(dockerd, cli):
    r = dockerd.docker("run", "--rm", "busybox", "echo", "hello", cli=cli)
    assert (r.returncode, r.stdout, r.stderr) == (0, "hello\n", "")
    r = dockerd.docker("ps", "-a", "-q", cli=cli)
    assert r.returncode == 0 and r.stdout == ""   # --rm: gone once it exited


def test_run_exit_codes_as_docker(dockerd):
    assert dockerd.docker("run", "--rm", "busybox", "sh", "-c", "exit 3").returncode == 3
    r = dockerd.docker("run", "--rm", "busybox", "no-such-command")
    assert r.returncode == 127, r.stderr
    assert "no-such-command" in r.stderr
    r = dockerd.docker("run", "--rm", "busybox", "/etc")
    assert r.returncode == 126, r.stderr
    r = dockerd.docker("run", "--rm", "no-such-image:1")
    assert r.returncode == 125 and "no-such-image" in r.stderr
    r = dockerd.docker("run", "--rm", "--restart", "always", "busybox", "true")
    assert r.returncode == 125
    assert dockerd.docker("ps", "-a", "-q").stdout == ""


def test_detached_container_ps_logs_exec_inspect_stop_rm(dockerd):
    r = dockerd.docker("run", "-d", "--name", "web", "busybox", "sh", "-c",
                       "echo started; echo oops >&2; trap 'exit 7' TERM; while true; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert len(cid) == 64
    r = dockerd.docker("ps")
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["CONTAINER", "ID"] and len(lines) == 2
    assert lines[1].startswith(cid[:12]) and lines[1].rstrip().endswith("web") and " Up " in lines[1]
    deadline = time.time() + 10
    while "started" not in dockerd.docker("logs", "web").stdout and time.time() < deadline:
        time.sleep(0.1)
    r = dockerd.docker("logs", "web")
    assert (r.stdout, r.stderr) == ("started\n", "oops\n")
    r = dockerd.docker("exec", "web", "sh", "-c", "echo in-$HOSTNAME; exit 5")
    assert (r.returncode, r.stdout) == (5, f"in-{cid[:12]}\n")
    r = dockerd.docker("inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.Name}} {{.Config.Image}}", "web")
    assert r.stdout == "running true /web busybox\n"
    info = json.loads(dockerd.docker("inspect", cid[:10]).stdout)[0]
    assert info["Id"] == cid and info["State"]["Pid"] > 0 and info["Config"]["Cmd"][0] == "sh"
    r = dockerd.docker("stop", "-t", "5", "web")
    assert (r.returncode, r.stdout) == (0, "web\n")
    r = dockerd.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "web")
    assert r.stdout == "exited 7\n"
    r = dockerd.docker("ps", "-a", "--format", "{{.Names}} {{.Status}}")
    assert r.stdout.startswith("web Exited (7) ")
    assert dockerd.docker("rm", "web").returncode == 0
    r = dockerd.docker("inspect", "web")
    assert r.returncode == 1 and "No such" in r.stderr


def test_piped_stdin_through_run_i(dockerd):
    r = dockerd.docker("run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done", input="one\ntwo\n")
    assert (r.returncode, r.stdout) == (0, "one\ntwo\ndone\n"), r.stderr


def test_kill_wait_rm_force_and_name_conflict(dockerd):
    r = dockerd.docker("run", "-d", "--name", "k", "busybox", "true")
    assert r.returncode == 125 and "Invalid container name (k)" in r.stderr  # two characters at least
    assert dockerd.docker("run", "-d", "--name", "kk", "busybox", "sleep", "100").returncode == 0
    r = dockerd.docker("run", "-d", "--name", "kk", "busybox", "true")
    assert r.returncode == 125 and "is already in use" in r.stderr
    r = dockerd.docker("rm", "kk")
    assert r.returncode == 1 and "cannot remove a running container" in r.stderr
    assert dockerd.docker("kill", "kk").returncode == 0
    r = dockerd.docker("wait", "kk")
    assert (r.returncode, r.stdout) == (0, "137\n")
    assert dockerd.docker("run", "-d", "--name", "kk2", "busybox", "sleep", "100").returncode == 0
    assert dockerd.docker("rm", "-f", "kk", "kk2").returncode == 0
    assert dockerd.docker("ps", "-a", "-q").stdout == ""


def test_images_listed(dockerd):
    r = dockerd.docker("images")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].split()[:2] == ["busybox", "latest"]
    r = dockerd.docker("image", "inspect", "-f", "{{.Id}} {{index .RepoTags 0}}", "busybox")
    assert r.stdout.startswith("sha256:") and r.stdout.endswith(" busybox:latest\n")


def test_pause_top_stats_restart_rename(dockerd):
    assert dockerd.docker("run", "-d", "--name", "busy", "busybox", "sh", "-c",
                          "while true; do sleep 0.1; done").returncode == 0
    r = dockerd.docker("top", "busy")
    assert r.returncode == 0 and "PID" in r.stdout.splitlines()[0] and "sleep" in r.stdout or "sh -c" in r.stdout
    assert dockerd.docker("pause", "busy").returncode == 0
    r = dockerd.docker("ps", "--format", "{{.Status}}")
    assert r.stdout.rstrip().endswith("(Paused)")
    assert dockerd.docker("inspect", "-f", "{{.State.Status}}", "busy").stdout == "paused\n"
    r = dockerd.docker("exec", "busy", "true")
    assert r.returncode != 0 and "paused" in r.stderr
    assert dockerd.docker("unpause", "busy").returncode == 0
    r = dockerd.docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "busy")
    assert r.returncode == 0, r.stderr
    name, *_, pids = r.stdout.split()
    assert name == "busy" and int(pids) >= 1
    assert dockerd.docker("rename", "busy", "busier").returncode == 0
    pid1 = dockerd.docker("inspect", "-f", "{{.State.Pid}}", "busier").stdout
    assert dockerd.docker("restart", "-t", "1", "busier").returncode == 0
    pid2 = dockerd.docker("inspect", "-f", "{{.State.Pid}} {{.State.Running}}", "busier").stdout
    assert pid2.endswith(" true\n") and pid2.split()[0] != pid1.strip()
    assert dockerd.docker("rm", "-f", "busier").returncode == 0


def test_prunes_df_history_events(dockerd):
    import subprocess
    import time
    # --since replays what happened before the stream connected: the runs below
    # may otherwise beat the subscription (a CI failure seen once).
    ev = subprocess.Popen(["/usr/bin/docker", "events", "--since", str(int(time.time()) - 1), "--format",
                           "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}", "--filter", "type=container"],
                          stdout=subprocess.PIPE, text=True, env=dict(__import__("os").environ, DOCKER_HOST=dockerd.host))
    try:
        assert dockerd.docker("run", "--name", "done1", "busybox", "true").returncode == 0
        assert dockerd.docker("create", "--name", "made", "busybox", "true").returncode == 0
        assert dockerd.docker("run", "-d", "--name", "live", "busybox", "sleep", "100").returncode == 0
        r = dockerd.docker("system", "df")
        assert r.returncode == 0 and r.stdout.splitlines()[1].split()[:3] == ["Images", "1", "1"], r.stdout
        assert r.stdout.splitlines()[2].split()[:3] == ["Containers", "3", "1"]
        r = dockerd.docker("container", "prune", "-f")
        assert r.returncode == 0 and "Total reclaimed space" in r.stdout
        assert sorted(dockerd.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()) == ["live"]
        r = dockerd.docker("history", "busybox")
        assert r.returncode == 0 and r.stdout.splitlines()[0].split()[:2] == ["IMAGE", "CREATED"]
        assert dockerd.docker("rm", "-f", "live").returncode == 0
        r = dockerd.docker("image", "prune", "-a", "-f")
        assert r.returncode == 0 and "untagged: busybox:latest" in r.stdout
        assert dockerd.docker("images", "-q").stdout == ""
    finally:
        time.sleep(0.5)
        ev.terminate()
        out = ev.communicate(timeout=10)[0]
    lines = out.splitlines()
    for want in ("container create done1", "container start done1", "container die done1",
                 "container create made", "container destroy made", "container destroy live"):
        assert want in lines, lines


def test_signals_are_default_in_containers(dockerd):
    """No signal ignored or blocked (Python ignores SIGPIPE: a `yes | head`
    pipeline never ended)."""
    r = dockerd.docker("run", "--rm", "busybox", "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status")
    fields = r.stdout.split()
    assert fields[:2] == ["SigBlk:", "0000000000000000"], r.stdout
    # none of the standard signals (32 and 33 are the C library's own)
    assert fields[2] == "SigIgn:" and int(fields[3], 16) & 0x7FFFFFFF == 0, r.stdout
    r = dockerd.docker("run", "--rm", "busybox", "sh", "-c", "yes | head -c 100000 | wc -c", timeout=30)
    assert r.stdout.strip() == "100000"


def test_exec_start_body_is_not_stdin(dockerd):
    """The CLI sends exec start's JSON body on the connection it upgrades:
    the body is the request's, the stream only what comes after it."""
    assert dockerd.docker("run", "-d", "--name", "box", "busybox", "sleep", "300").returncode == 0
    for cli in CLIS:
        r = dockerd.docker("exec", "-i", "box", "cat", input="fed\n", cli=cli)
        assert (r.returncode, r.stdout) == (0, "fed\n"), (cli, r.stderr)
    assert dockerd.docker("rm", "-f", "box").returncode == 0
