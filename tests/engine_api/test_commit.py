"""docker commit and docker diff through the real docker CLI: the new image
carries the container's changes (deletions too) and runs; diff lists what
Docker lists, without the runtime's own mount points."""
import json

from tests.engine_api.conftest import CLIS


def test_diff_lists_changes_without_mount_points(dockerd):
    r = dockerd.docker("run", "--name", "d1", "busybox", "sh", "-c",
                       "mkdir /new && echo x > /new/f && rm /bin/ls && touch /etc/passwd")
    assert r.returncode == 0, r.stderr
    r = dockerd.docker("diff", "d1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["C /bin", "D /bin/ls", "C /etc", "C /etc/passwd", "A /new", "A /new/f"]
    r = dockerd.docker("run", "--name", "d2", "busybox", "true")
    assert r.returncode == 0, r.stderr
    assert dockerd.docker("diff", "d2").stdout == ""   # /etc/hosts, /proc... are not changes
    assert dockerd.docker("diff", "nosuch").returncode != 0


def test_commit_makes_an_image_with_the_changes(dockerd):
    r = dockerd.docker("run", "--name", "c1", "-e", "FOO=bar", "busybox", "sh", "-c",
                       "echo committed > /hello && rm /bin/ls && mkdir -p /data/sub")
    assert r.returncode == 0, r.stderr
    r = dockerd.docker("commit", "-a", "me", "-m", "a message", "-c", "CMD [\"cat\", \"/hello\"]",
                       "-c", "ENV STAGE=two", "c1", "mine/committed:v1")
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    r = dockerd.docker("run", "--rm", "mine/committed:v1")
    assert (r.returncode, r.stdout) == (0, "committed\n"), r.stderr
    r = dockerd.docker("run", "--rm", "mine/committed:v1", "sh", "-c",
                       "test -e /bin/ls; echo $? $FOO $STAGE; test -d /data/sub && echo dir")
    assert r.stdout == "1 bar two\ndir\n", r.stderr
    info = json.loads(dockerd.docker("image", "inspect", "mine/committed:v1").stdout)[0]
    base = json.loads(dockerd.docker("image", "inspect", "busybox").stdout)[0]
    assert info["Id"] == image_id
    assert info["Author"] == "me" and info["Comment"] == "a message"
    assert info["Parent"] == base["Id"]
    assert info["Config"]["Cmd"] == ["cat", "/hello"]
    assert len(info["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    hist = dockerd.docker("history", "--format", "{{.CreatedBy}}|{{.Comment}}", "mine/committed:v1")
    assert hist.stdout.splitlines()[0].endswith("|a message"), hist.stdout


def test_commit_of_a_running_container_untagged_then_tagged(dockerd):
    r = dockerd.docker("run", "-d", "--name", "run1", "busybox", "sh", "-c", "echo hi > /f; sleep 300")
    assert r.returncode == 0, r.stderr
    dockerd.docker("exec", "run1", "true")
    r = dockerd.docker("commit", "run1", cli=CLIS[-1])
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    # paused for the commit, running after it
    state = dockerd.docker("inspect", "-f", "{{.State.Status}}", "run1").stdout.strip()
    assert state == "running"
    r = dockerd.docker("images", "-q", "--no-trunc", "--filter", "dangling=true")
    assert image_id in r.stdout.split()
    r = dockerd.docker("run", "--rm", image_id, "cat", "/f")
    assert r.stdout == "hi\n", r.stderr
    assert dockerd.docker("tag", image_id, "now/tagged").returncode == 0
    r = dockerd.docker("images", "--format", "{{.Repository}}")
    assert "now/tagged" in r.stdout.split()
    assert dockerd.docker("commit", "run1", "Bad:Name").returncode != 0
    assert dockerd.docker("commit", "nosuch", "x").returncode != 0
    dockerd.docker("rm", "-f", "run1")
