"""Log drivers and their options (json-file rotation, none, daemon
defaults) and other runc-compatible runtimes (--add-runtime, --runtime)
through the real docker CLI."""
import json
import os
import shutil

import pytest


def test_log_rotation_keeps_max_file_files_and_logs_reads_them_in_order(dockerd):
    r = dockerd.docker("run", "--name", "rot", "--log-opt", "max-size=2k", "--log-opt", "max-file=3",
                       "busybox", "seq", "1", "3000")
    assert r.returncode == 0, r.stderr
    info = json.loads(dockerd.docker("inspect", "rot").stdout)[0]
    assert info["HostConfig"]["LogConfig"] == {"Type": "json-file",
                                               "Config": {"max-size": "2k", "max-file": "3"}}
    path = info["LogPath"]
    files = sorted(os.listdir(os.path.dirname(path)))
    logs = [f for f in files if f.startswith(os.path.basename(path))]
    assert len(logs) == 3, files
    assert all(os.path.getsize(os.path.join(os.path.dirname(path), f)) <= 2000 for f in logs)
    out = dockerd.docker("logs", "rot").stdout.split()
    # the newest lines, contiguous, oldest first
    assert out[-1] == "3000" and out == [str(i) for i in range(int(out[0]), 3001)]
    assert 3 * 2000 // 100 < len(out) < 3000   # about 75 bytes a line
    assert dockerd.docker("logs", "--tail", "3", "rot").stdout == "2998\n2999\n3000\n"
    r = dockerd.docker("run", "--rm", "--log-opt", "max-size=1k", "--log-opt", "bogus=1", "busybox", "true")
    assert r.returncode == 125 and "unknown log opt 'bogus'" in r.stderr
    r = dockerd.docker("run", "--rm", "--log-opt", "max-file=0", "--log-opt", "max-size=1k", "busybox", "true")
    assert r.returncode == 125


def test_logs_follow_goes_on_across_a_rotation(dockerd):
    r = dockerd.docker("run", "-d", "--name", "fol", "--log-opt", "max-size=1k", "--log-opt", "max-file=2",
                       "busybox", "sh", "-c",
                       "sleep 1; for b in 0 1 2 3 4 5; do for i in $(seq 1 10); do echo line$b$i; done; "
                       "sleep 0.5; done")
    assert r.returncode == 0, r.stderr
    # bursts of about 750 bytes: the 1k file rotates every burst or two
    r = dockerd.docker("logs", "-f", "fol", timeout=30)
    assert r.stdout.split() == [f"line{b}{i}" for b in range(6) for i in range(1, 11)]


def test_daemon_log_defaults_and_log_driver_none(dockerd):
    dockerd.stop()
    dockerd.start("--log-driver", "none")
    assert dockerd.docker("info", "--format", "{{.LoggingDriver}}").stdout.strip() == "none"
    # attached, the output still comes (as with Docker); nothing is kept
    assert dockerd.docker("run", "--name", "quiet", "busybox", "echo", "hi").stdout == "hi\n"
    r = dockerd.docker("logs", "quiet")
    assert r.returncode != 0 and "does not support reading" in r.stderr
    r = dockerd.docker("run", "--name", "loud", "--log-driver", "json-file", "busybox", "echo", "hi")
    assert dockerd.docker("logs", "loud").stdout == "hi\n"
    dockerd.stop()
    dockerd.start("--log-opt", "max-size=5k", "--log-opt", "max-file=2")
    dockerd.docker("run", "--name", "dflt", "busybox", "true")
    cfg = json.loads(dockerd.docker("inspect", "dflt").stdout)[0]["HostConfig"]["LogConfig"]
    assert cfg == {"Type": "json-file", "Config": {"max-size": "5k", "max-file": "2"}}


def test_bad_daemon_log_options_stop_dockerd(engine, tmp_path):
    import subprocess
    r = subprocess.run(engine.argv("dockerd", "--bridge=none", "-H", f"unix://{tmp_path}/d.sock", "--data-root",
                                   str(tmp_path / "d"), "--log-opt", "max-file=x", "--log-opt", "max-size=1k"),
                       env=engine.env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "max-file" in r.stderr
    assert not os.path.exists(tmp_path / "d.sock")


@pytest.mark.skipif(not shutil.which("runc"), reason="Debian's runc is installed by .ci/run")
def test_another_runtime_per_container(dockerd):
    dockerd.stop()
    dockerd.start("--add-runtime", f"debian-runc={shutil.which('runc')}")
    info = json.loads(dockerd.docker("info", "--format", "{{json .Runtimes}}").stdout)
    assert set(info) == {"runc", "debian-runc"}
    r = dockerd.docker("run", "-d", "--name", "rt", "--runtime", "debian-runc", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    assert dockerd.docker("inspect", "-f", "{{.HostConfig.Runtime}}", "rt").stdout.strip() == "debian-runc"
    assert dockerd.docker("exec", "rt", "echo", "in").stdout == "in\n"
    # the container is Debian's runc's: its state file is libcontainer's
    cid = dockerd.docker("inspect", "-f", "{{.Id}}", "rt").stdout.strip()
    states = list(dockerd.tmp.glob(f"**/runc/{cid}/state.json"))
    assert len(states) == 1
    state = json.loads(states[0].read_text())
    pid = int(dockerd.docker("inspect", "-f", "{{.State.Pid}}", "rt").stdout)
    assert state["init_process_pid"] == pid
    assert dockerd.docker("stop", "-t", "1", "rt").returncode == 0
    # sleep as PID 1 ignores SIGTERM: killed after the timeout, as with Docker
    assert dockerd.docker("inspect", "-f", "{{.State.ExitCode}}", "rt").stdout.strip() == "137"
    r = dockerd.docker("run", "--rm", "--runtime", "nosuch", "busybox", "true")
    assert r.returncode == 125 and "Unknown runtime specified nosuch" in r.stderr
    dockerd.docker("rm", "-f", "rt")


def test_sighup_reloads_runtimes_debug_and_registries(dockerd, tmp_path):
    import signal
    import time
    cfg = tmp_path / "daemon.json"
    cfg.write_text("{}")
    dockerd.stop()
    dockerd.start("--config-file", str(cfg))
    assert dockerd.docker("info", "--format", "{{.Debug}}").stdout.strip() == "false"
    since = str(int(time.time()) - 1)
    cfg.write_text(json.dumps({"debug": True, "runtimes": {"alt": {"path": "runc"}},
                               "insecure-registries": ["10.9.0.0/16"]}))
    dockerd.proc.popen.send_signal(signal.SIGHUP)

    def info():
        return json.loads(dockerd.docker("info", "--format", "{{json .}}").stdout)
    deadline = time.time() + 10
    while info()["Debug"] is not True and time.time() < deadline:
        time.sleep(0.1)
    i = info()
    assert i["Debug"] is True and set(i["Runtimes"]) == {"runc", "alt"}
    assert "10.9.0.0/16" in i["RegistryConfig"]["InsecureRegistryCIDRs"]
    r = dockerd.docker("events", "--since", since, "--until", str(int(time.time()) + 1),
                       "--filter", "type=daemon", "--format", "{{.Action}}")
    assert r.stdout.split() == ["reload"]
    # a broken file changes nothing, and the daemon stays up
    cfg.write_text("{not json")
    dockerd.proc.popen.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert dockerd.proc.popen.poll() is None
    assert info()["Debug"] is True


def test_default_ulimits_apply_unless_the_container_sets_its_own(dockerd):
    dockerd.stop()
    dockerd.start("--default-ulimit", "nofile=512:1024")
    r = dockerd.docker("run", "--rm", "busybox", "sh", "-c", "ulimit -Sn; ulimit -Hn")
    assert r.stdout.split() == ["512", "1024"], r.stderr
    r = dockerd.docker("run", "--rm", "--ulimit", "nofile=300:400", "busybox", "sh", "-c", "ulimit -Sn")
    assert r.stdout.split() == ["300"], r.stderr
