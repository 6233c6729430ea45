"""The Dockerfile parser, word expansion, the metadata instructions and
.dockerignore matching, against what Docker's builder and CLI do."""
import pytest

from busybox_engine.build import dockerfile as D
from busybox_engine.build import ignore
from busybox_engine.build import instructions as I
from busybox_engine.build import words as W


def test_parser_directives_comments_continuations_and_forms():
    df = D.parse("# escape=`\n"
                 "# a comment\n"
                 "FROM busybox AS base\n"
                 "\n"
                 "run echo one `\n"
                 "  # a comment inside a continuation\n"
                 "  two\n"
                 "COPY --chown=1:2 --from=base [\"a b\", \"/c/\"]\n"
                 "CMD [\"sh\", \"-c\"]\n"
                 "ENTRYPOINT [not json\n")
    cmds = [(i.cmd, i.line) for i in df.instructions]
    assert cmds == [("from", 3), ("run", 5), ("copy", 8), ("cmd", 9), ("entrypoint", 10)]
    assert df.escape == "`"
    run = df.instructions[1]
    assert run.rest == "echo one   two" and run.json is None
    cp = df.instructions[2]
    assert cp.flags == {"chown": ["1:2"], "from": ["base"]} and cp.json == ["a b", "/c/"]
    assert df.instructions[3].json == ["sh", "-c"]
    assert df.instructions[4].json is None   # not JSON: the shell form
    with pytest.raises(D.ParseError, match="line 2: unknown instruction: BOGUS"):
        D.parse("FROM x\nbogus y\n")
    with pytest.raises(D.ParseError, match="invalid escape token"):
        D.parse("# escape=x\nFROM y\n")
    # a directive after an instruction is a comment
    assert D.parse("FROM y\n# escape=`\nRUN a \\\n b\n").instructions[1].rest == "a  b"


def test_words_expand_and_unquote():
    env = {"A": "1", "E": "", "P": "/x y"}
    assert W.word("$A${A}'$A'\"$A\"", env) == "11$A1"
    assert W.word("${NOPE:-dflt} ${E:-empty} ${E-set} ${A:+alt} ${NOPE:+x}", env) == "dflt empty  alt "
    assert W.word(r"a\$A \"q\"", env) == 'a$A "q"'
    assert W.words("one 'two three' \"$P\" \"\"", env) == ["one", "two three", "/x y", ""]
    with pytest.raises(W.WordError):
        W.word("\"open", env)
    with pytest.raises(W.WordError):
        W.word("${NOPE:?must be set}", env)
    assert W.split_keep_quotes('a=1 b="two words" c=3\\ 4') == ["a=1", 'b="two words"', "c=3\\ 4"]


def _stage(**cfg):
    return I.Stage(dict({"Env": [I.PATH_ENV]}, **cfg), "\\", {"FROMCLI": "cli"}, {"META": "m"})


def _ins(text):
    return D.parse(text).instructions[0]


def test_metadata_instructions():
    st = _stage()
    assert I.apply(st, _ins('ENV A=1 B="two words"')) == "ENV A=1 B=two words"
    assert I.apply(st, _ins("ENV OLD form with spaces")) == "ENV OLD=form with spaces"
    assert "A=1" in st.config["Env"] and "OLD=form with spaces" in st.config["Env"]
    I.apply(st, _ins("LABEL x=$A y=\"$B\""))
    assert st.config["Labels"] == {"x": "1", "y": "two words"}
    I.apply(st, _ins("EXPOSE 80 53/udp 8000-8001"))
    assert sorted(st.config["ExposedPorts"]) == ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]
    I.apply(st, _ins("WORKDIR /a"))
    I.apply(st, _ins("WORKDIR b/../c"))
    assert st.config["WorkingDir"] == "/a/c"
    I.apply(st, _ins("CMD echo hi"))
    assert st.config["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    I.apply(st, _ins('SHELL ["/bin/ash", "-eo"]'))
    I.apply(st, _ins("ENTRYPOINT run it"))
    assert st.config["Entrypoint"] == ["/bin/ash", "-eo", "run it"] and st.config["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    st2 = _stage(Cmd=["from-base"])
    I.apply(st2, _ins('ENTRYPOINT ["x"]'))
    assert st2.config["Cmd"] is None   # an ENTRYPOINT resets the base image's CMD
    I.apply(st, _ins("HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost"))
    assert st.config["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 5_000_000_000,
                                        "Retries": 2}
    I.apply(st, _ins('VOLUME ["/data", "/logs"]'))
    assert sorted(st.config["Volumes"]) == ["/data", "/logs"]
    for bad, msg in (("ENV X", "ENV must have two arguments"), ("STOPSIGNAL NOPE", "Invalid signal"),
                     ("SHELL sh -c", "JSON form"), ("EXPOSE 80/xyz", "invalid proto"),
                     ("ONBUILD FROM x", "isn't allowed"), ("LABEL a=1 b", "can't find ="),
                     ("LABEL a", "LABEL must have two arguments")):
        with pytest.raises(I.BuildError, match=msg):
            I.apply(_stage(), _ins(bad))


def test_args_and_run_history():
    st = _stage()
    I.apply(st, _ins("ARG FROMCLI=default NOVALUE META WITHDEF=$FROMCLI-x"))
    assert st.args == {"FROMCLI": "cli", "NOVALUE": None, "META": "m", "WITHDEF": "cli-x"}
    I.apply(st, _ins("ENV WITHDEF=env-wins"))
    cmd, saved = I.run_command(st, _ins("RUN echo $FROMCLI"))
    assert cmd == ["/bin/sh", "-c", "echo $FROMCLI"]
    assert saved == ["|2", "FROMCLI=cli", "META=m", "/bin/sh", "-c", "echo $FROMCLI"]
    srcs, dest, chown, frm = I.copy_args(st, _ins("COPY --chown=$FROMCLI a b $WITHDEF/"))
    assert (srcs, dest, chown, frm) == (["a", "b"], "env-wins/", "cli", "")
    with pytest.raises(I.BuildError, match="requires BuildKit"):
        I.copy_args(st, _ins("COPY --chmod=600 a b"))


@pytest.mark.parametrize("pattern,path,out", [
    ("*.log", "a.log", True), ("*.log", "d/a.log", False), ("**/*.log", "d/e/a.log", True),
    ("**/*.log", "a.log", True), ("secret", "secret/key", True), ("/abs", "abs", True),
    ("d/?.txt", "d/a.txt", True), ("d/?.txt", "d/ab.txt", False), ("[a-c].md", "b.md", True),
    ("./x/../y", "y", True),
])
def test_dockerignore_patterns(pattern, path, out):
    assert ignore.excluded(ignore.read_patterns(pattern), path) is out


def test_dockerignore_exceptions_last_match_wins():
    pats = ignore.read_patterns("# comment\n*.md\n!README.md\nREADME.md\n!docs/*.md\n")
    assert ignore.excluded(pats, "a.md") and ignore.excluded(pats, "README.md")
    assert not ignore.excluded(pats, "docs/x.md") and ignore.has_exceptions(pats)
