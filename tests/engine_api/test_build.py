"""docker build (the classic builder) through the real docker CLI with
DOCKER_BUILDKIT=0, through docker-py, and through our own client: the
steps' effect on the image, Docker's output and errors, the cache, and
nothing left behind (containers, mounts) after a build, good or bad."""
import json
import os

import pytest

from tests.engine_api.conftest import CLIS

CLASSIC = {"DOCKER_BUILDKIT": "0"}


def _ctx(tmp_path, dockerfile: str, files: dict | None = None, name: str = "ctx"):
    d = tmp_path / name
    d.mkdir()
    (d / "Dockerfile").write_text(dockerfile)
    for path, content in (files or {}).items():
        p = d / path
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    return d


def build(dockerd, ctx, *args, cli=None):
    return dockerd.docker("build", *args, str(ctx), cli=cli, env=CLASSIC, timeout=120)


def _containers(dockerd) -> list:
    return dockerd.docker("ps", "-aq").stdout.split()


def test_build_runs_steps_and_tags(dockerd, tmp_path):
    ctx = _ctx(tmp_path, "FROM busybox\n"
                         "ENV GREETING=hello\n"
                         "RUN echo \"$GREETING from run\" > /msg && echo to-stdout\n"
                         "COPY app.txt /app/\n"
                         "WORKDIR /app\n"
                         "LABEL org.example=yes\n"
                         "EXPOSE 8080\n"
                         "CMD [\"cat\", \"/msg\", \"app.txt\"]\n",
               {"app.txt": "the app\n"})
    r = build(dockerd, ctx, "-t", "mine/app:v1")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "Step 1/8 : FROM busybox" in out and "Step 8/8 : CMD [\"cat\", \"/msg\", \"app.txt\"]" in out
    assert " ---> Running in " in out and "to-stdout" in out
    assert "Successfully built " in out and "Successfully tagged mine/app:v1" in out
    r = dockerd.docker("run", "--rm", "mine/app:v1")
    assert (r.returncode, r.stdout) == (0, "hello from run\nthe app\n"), r.stderr
    info = json.loads(dockerd.docker("image", "inspect", "mine/app:v1").stdout)[0]
    assert info["Config"]["WorkingDir"] == "/app"
    assert info["Config"]["Labels"] == {"org.example": "yes"}
    assert "8080/tcp" in info["Config"]["ExposedPorts"]
    assert "GREETING=hello" in info["Config"]["Env"]
    assert _containers(dockerd) == []   # intermediate containers removed


def test_build_output_and_errors_match_the_real_client(dockerd, tmp_path):
    """Our client and 20.10's, against our daemon: the same output."""
    import subprocess
    ctx = _ctx(tmp_path, "FROM busybox\nENV A=1\nRUN echo hi && exit 3\n")
    outs = []
    for argv in (["/usr/bin/docker"], dockerd.engine.argv("docker")):
        env = dict(dockerd.engine.env or os.environ, DOCKER_BUILDKIT="0", DOCKER_HOST=dockerd.host)
        r = subprocess.run([*argv, "build", "--no-cache", str(ctx)], capture_output=True, text=True, env=env,
                           timeout=120)
        outs.append(r)
    real, ours = outs
    # the RUN's exit code is the build's, as the Go client makes it
    assert real.returncode == ours.returncode == 3
    assert real.stderr == ours.stderr == "The command '/bin/sh -c echo hi && exit 3' returned a non-zero code: 3\n"
    import re

    def shape(text):   # container and image ids differ from run to run
        return re.sub(r"\b[0-9a-f]{12}\b", "ID", text)
    assert shape(real.stdout) == shape(ours.stdout)
    assert ours.stdout.startswith("Sending build context to Docker daemon  2.048kB\n")
    # the failed step's container stays (as Docker leaves it); the others went
    left = _containers(dockerd)
    assert len(left) == 2, left
    assert dockerd.docker("rm", *left).returncode == 0


def test_cache_multistage_args_and_ignore(dockerd, tmp_path):
    df = ("ARG BASE=busybox\n"
          "FROM $BASE AS first\n"
          "ARG VER=1\n"
          "RUN echo \"v=$VER\" > /ver\n"
          "COPY . /ctx/\n"
          "FROM busybox\n"
          "COPY --from=first /ver /ctx /out/\n"
          "USER nobody\n"
          "ENTRYPOINT [\"cat\"]\n"
          "CMD [\"/out/ver\"]\n")
    ctx = _ctx(tmp_path, df, {"keep.txt": "k\n", "secret/key": "s\n", "logs/a.log": "l\n",
                              ".dockerignore": "secret\n**/*.log\n"})
    r = build(dockerd, ctx, "-t", "ms:1", "--build-arg", "VER=7", "--build-arg", "UNUSED=x")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in r.stdout
    assert "Using cache" not in r.stdout
    assert dockerd.docker("run", "--rm", "ms:1").stdout == "v=7\n"
    r = dockerd.docker("run", "--rm", "--entrypoint", "ls", "ms:1", "-a", "/out")
    assert sorted(r.stdout.split()) == [".", "..", ".dockerignore", "Dockerfile", "keep.txt", "logs", "ver"], r.stdout
    assert dockerd.docker("run", "--rm", "--entrypoint", "ls", "ms:1", "/out/logs").stdout == ""
    info = json.loads(dockerd.docker("image", "inspect", "ms:1").stdout)[0]
    assert info["Config"]["User"] == "nobody" and info["Config"]["Entrypoint"] == ["cat"]
    # the same build again: every step from the cache, the same image
    again = build(dockerd, ctx, "-t", "ms:2", "--build-arg", "VER=7")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count(" ---> Using cache") == 7, again.stdout
    assert " ---> Running in" not in again.stdout
    ids = [json.loads(dockerd.docker("image", "inspect", t).stdout)[0]["Id"] for t in ("ms:1", "ms:2")]
    assert ids[0] == ids[1]
    # a changed file or --no-cache makes new steps
    (ctx / "keep.txt").write_text("changed\n")
    r = build(dockerd, ctx, "-t", "ms:3", "--build-arg", "VER=7")
    assert r.stdout.count(" ---> Using cache") == 2, r.stdout   # ARG and RUN before the COPY
    r = build(dockerd, ctx, "-t", "ms:4", "--no-cache", "--build-arg", "VER=7")
    assert "Using cache" not in r.stdout and r.returncode == 0
    # intermediate images are hidden from `images`, listed by -a, removed with the last tag
    # (the first stage's results stay as dangling images, as the classic builder leaves them)
    tagged = dockerd.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert sorted(tagged) == ["<none>:<none>"] * 3 + ["busybox:latest", "ms:1", "ms:2", "ms:3", "ms:4"]
    assert len(dockerd.docker("images", "-aq").stdout.split()) > 10
    for t in ("ms:1", "ms:2", "ms:3", "ms:4"):
        r = dockerd.docker("rmi", t)
        assert r.returncode == 0, r.stderr
    r = dockerd.docker("image", "prune", "-f")
    assert r.returncode == 0 and r.stdout.count("deleted: sha256:") > 3, r.stdout
    assert dockerd.docker("images", "-aq").stdout.split() == \
        dockerd.docker("images", "-q", "busybox").stdout.split()
    assert _containers(dockerd) == []


def test_copy_add_rules(dockerd, tmp_path):
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        data = b"from the archive\n"
        info = tarfile.TarInfo("inner/file.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    df = ("FROM busybox\n"
          "WORKDIR /app\n"
          "COPY one.txt .\n"
          "COPY one.txt renamed.txt\n"
          "COPY --chown=nobody:nogroup dir /owned/\n"
          "COPY *.md /docs/\n"
          "ADD bundle.tgz /unpacked/\n"
          "COPY bundle.tgz /packed/\n"
          "RUN ls /app /docs && stat -c '%U:%G %a' /owned/sub/f && cat /unpacked/inner/file.txt "
          "&& ls /packed\n")
    ctx = _ctx(tmp_path, df, {"one.txt": "1\n", "dir/sub/f": "f\n", "a.md": "a", "b.md": "b",
                              "bundle.tgz": buf.getvalue()})
    os.chmod(ctx / "dir" / "sub" / "f", 0o640)
    r = build(dockerd, ctx, "-t", "cp:1")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "one.txt\nrenamed.txt\n" in out and "a.md\nb.md\n" in out
    assert "nobody:nogroup 640\n" in out and "from the archive\n" in out and "bundle.tgz\n" in out
    # errors: a missing file, several files to a non-directory, a path out of the context
    for line, message in (("COPY nope.txt /x", "COPY failed: file not found in build context or excluded by "
                                                ".dockerignore: stat nope.txt: file does not exist"),
                          ("COPY one.txt *.md /x", "When using COPY with more than one source file, the "
                                                   "destination must be a directory and end with a /"),
                          ("COPY ../outside /x", "COPY failed: forbidden path outside the build context: "
                                                 "../outside ()"),
                          ("COPY link /x", "COPY failed: file not found in build context or excluded by "
                                           ".dockerignore: stat link: file does not exist")):
        bad = tmp_path / f"bad{abs(hash(line))}"
        bad.mkdir()
        (bad / "Dockerfile").write_text(f"FROM busybox\n{line}\n")
        (bad / "one.txt").write_text("1")
        (bad / "a.md").write_text("a")
        os.symlink("/etc/hostname", bad / "link")   # a link out of the context: never followed out
        r = build(dockerd, bad)
        assert r.returncode == 1 and message in r.stderr, (line, r.stdout, r.stderr)
    assert _containers(dockerd) == []


def test_scratch_and_parse_errors(dockerd, tmp_path):
    import shutil
    bb = shutil.which("busybox")
    ctx = _ctx(tmp_path, "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"mkdir\", \"/made\"]\n"
                         "CMD [\"/bin/busybox\", \"ls\", \"/\"]\n")
    shutil.copy(bb, ctx / "busybox")
    r = build(dockerd, ctx, "-t", "fromscratch")
    assert r.returncode == 0, r.stdout + r.stderr
    r = dockerd.docker("run", "--rm", "fromscratch")
    assert r.returncode == 0 and sorted(r.stdout.split())[:2] == ["bin", "dev"] and "made" in r.stdout, r.stdout
    layers = json.loads(dockerd.docker("image", "inspect", "fromscratch").stdout)[0]["RootFS"]["Layers"]
    assert len(layers) == 2
    for text, message in (("FROM busybox\nFOO bar\n", "dockerfile parse error line 2: unknown instruction: FOO"),
                          ("", "the Dockerfile (Dockerfile) cannot be empty"),
                          ("RUN true\n", "no build stage in current context"),
                          ("FROM busybox\nSHELL /bin/sh -c\n", "SHELL requires the arguments to be in JSON form"),
                          ("FROM busybox\nENV ONLYKEY\n", "ENV must have two arguments")):
        bad = tmp_path / f"p{abs(hash(text))}"
        bad.mkdir()
        (bad / "Dockerfile").write_text(text)
        r = build(dockerd, bad)
        assert r.returncode != 0 and message in r.stderr, (text, r.stderr)
    assert _containers(dockerd) == []


def test_docker_py_build_and_a_hostile_context(dockerd, tmp_path):
    import io
    import tarfile

    import docker
    client = docker.DockerClient(base_url=dockerd.host)
    ctx = _ctx(tmp_path, "FROM busybox\nARG WHO\nLABEL who=$WHO\nRUN echo built for $WHO\n")
    image, logs = client.images.build(path=str(ctx), tag="py:1", buildargs={"WHO": "py"}, rm=True)
    assert image.labels == {"who": "py"} and "py:1" in image.tags
    assert any("built for py" in (x.get("stream") or "") for x in logs)
    # a failing build: BuildError with the command's message
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN exit 7\n")
    with pytest.raises(docker.errors.BuildError, match="returned a non-zero code: 7"):
        client.images.build(path=str(ctx), forcerm=True)
    # a context with an entry climbing out: refused before anything is made
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY . /x\n"), ("../../escape", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    with pytest.raises(docker.errors.APIError) as e:
        list(client.api.build(fileobj=io.BytesIO(buf.getvalue()), custom_context=True, decode=True))
    assert e.value.status_code == 400 and "outside" in str(e.value)
    assert not os.path.exists(os.path.join(os.path.dirname(str(tmp_path)), "escape"))
    assert _containers(dockerd) == []
    data = os.path.join(str(dockerd.tmp), "data", "tmp")
    assert not os.path.isdir(data) or os.listdir(data) == []   # no context left behind
    client.close()


def test_target_labels_iidfile_onbuild_and_stdin(dockerd, tmp_path):
    import subprocess
    ours = dockerd.engine.argv("docker")
    env = dict(dockerd.engine.env or os.environ, DOCKER_HOST=dockerd.host)

    def run(*args, input=None):
        return subprocess.run([*ours, *args], capture_output=True, text=True, env=env, input=input, timeout=120)
    # a Dockerfile outside the context (-f), a target stage, --label, --iidfile
    ctx = _ctx(tmp_path, "unused\n", {"f.txt": "F\n"})
    outside = tmp_path / "elsewhere.Dockerfile"
    outside.write_text("FROM busybox AS one\nRUN echo one > /stage\n"
                       "FROM busybox AS two\nRUN echo two > /stage\nCOPY f.txt /\n")
    iid = tmp_path / "iid"
    r = run("build", "-f", str(outside), "--target", "one", "--label", "team=core", "--iidfile", str(iid),
            "-t", "tg:1", str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert dockerd.docker("run", "--rm", "tg:1", "cat", "/stage").stdout == "one\n"
    info = json.loads(dockerd.docker("image", "inspect", "tg:1").stdout)[0]
    assert info["Config"]["Labels"] == {"team": "core"} and iid.read_text() == info["Id"]
    r = run("build", "-f", str(outside), "--target", "nosuch", str(ctx))
    assert r.returncode == 1 and "failed to reach build target nosuch in Dockerfile" in r.stderr, r.stderr
    # ONBUILD: the trigger runs in the child's build
    base = _ctx(tmp_path, "FROM busybox\nONBUILD RUN echo triggered > /trig\n", name="base")
    assert run("build", "-q", "-t", "ob:base", str(base)).returncode == 0
    child = _ctx(tmp_path, "FROM ob:base\nRUN cat /trig\n", name="child")
    r = run("build", "-t", "ob:child", str(child))
    assert r.returncode == 0 and "# Executing 1 build trigger" in r.stdout and "triggered" in r.stdout, r.stdout
    assert json.loads(dockerd.docker("image", "inspect", "ob:child").stdout)[0]["Config"]["OnBuild"] in (None, [])
    # a Dockerfile on stdin, no context
    r = run("build", "-q", "-t", "stdin:1", "-", input="FROM busybox\nCMD [\"echo\", \"from-stdin\"]\n")
    assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    assert dockerd.docker("run", "--rm", "stdin:1").stdout == "from-stdin\n"
    # a missing context directory, a missing Dockerfile: the CLI's errors
    r = run("build", str(tmp_path / "nope"))
    assert r.returncode == 1 and "unable to prepare context: path" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run("build", str(empty))
    assert r.returncode == 1 and "unable to prepare context" in r.stderr and "Dockerfile" in r.stderr
    assert _containers(dockerd) == []


def test_from_a_private_registry_with_the_clients_credentials(dockerd, private_registry, tmp_path):
    """FROM an image not here: pulled with what `docker login` stored,
    sent as X-Registry-Config, by our client and by the Go one."""
    import subprocess
    addr = private_registry.address
    r = dockerd.docker("login", "-u", "alice", "--password-stdin", addr, input="s3cret\n")
    assert r.returncode == 0, r.stderr
    assert dockerd.docker("tag", "busybox", f"{addr}/alice/base:1").returncode == 0
    assert dockerd.docker("push", f"{addr}/alice/base:1").returncode == 0
    ctx = _ctx(tmp_path, f"FROM {addr}/alice/base:1\nRUN echo on-private > /p\n")
    env = dict(dockerd.engine.env or os.environ, DOCKER_HOST=dockerd.host,
               DOCKER_CONFIG=str(dockerd.tmp / "dockercfg"), DOCKER_BUILDKIT="0")
    for argv in (dockerd.engine.argv("docker"), ["/usr/bin/docker"]):
        assert dockerd.docker("rmi", f"{addr}/alice/base:1").returncode == 0
        r = subprocess.run([*argv, "build", "--no-cache", "-t", "priv:1", str(ctx)], capture_output=True,
                           text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert dockerd.docker("run", "--rm", "priv:1", "cat", "/p").stdout == "on-private\n"
    # logged out: the pull is refused, the build fails with the reason
    assert dockerd.docker("logout", addr).returncode == 0
    assert dockerd.docker("rmi", f"{addr}/alice/base:1").returncode == 0
    r = subprocess.run([*dockerd.engine.argv("docker"), "build", str(ctx)], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 1 and "pull access denied" in r.stderr, r.stderr


def test_an_image_with_children_is_untagged_not_deleted(dockerd, tmp_path):
    ctx = _ctx(tmp_path, "FROM busybox\nRUN echo child > /c\n")
    assert dockerd.docker("tag", "busybox", "parent:1").returncode == 0
    (ctx / "Dockerfile").write_text("FROM parent:1\nRUN echo child > /c\n")
    assert build(dockerd, ctx, "-t", "child:1").returncode == 0
    parent_id = json.loads(dockerd.docker("image", "inspect", "parent:1").stdout)[0]["Id"]
    assert dockerd.docker("rmi", "busybox").stdout == "Untagged: busybox:latest\n"
    r = dockerd.docker("rmi", "parent:1")
    assert (r.returncode, r.stdout) == (0, "Untagged: parent:1\n"), r.stderr
    r = dockerd.docker("rmi", parent_id)
    assert r.returncode == 1 and "image has dependent child images" in r.stderr, r.stderr
    assert dockerd.docker("run", "--rm", "child:1", "cat", "/c").stdout == "child\n"
    # the child's removal takes its untagged ancestors with it
    r = dockerd.docker("rmi", "child:1")
    assert r.returncode == 0 and f"Deleted: {parent_id}" in r.stdout, r.stdout
    assert dockerd.docker("images", "-aq").stdout == ""
