"""The flag parser runc, ctr and the shim share (Go flag rules, and pflag's
combined short flags where asked for)."""
import pytest

from busybox_engine.util.flags import UsageError, parse_flags

FLAGS = {"interactive": bool, "tty": bool, "detach": bool, "env": list, "name": str, "count": int}
SHORT = {"i": "interactive", "t": "tty", "d": "detach", "e": "env", "n": "name", "c": "count"}


@pytest.mark.parametrize("argv,opts,rest", [
    (["-it", "img", "sh"], {"interactive": True, "tty": True}, ["img", "sh"]),
    (["-dit", "img"], {"interactive": True, "tty": True, "detach": True}, ["img"]),
    (["-e", "A=1", "-eB=2", "--env=C=3", "img"], {"env": ["A=1", "B=2", "C=3"]}, ["img"]),
    (["-itn", "web", "img"], {"interactive": True, "tty": True, "name": "web"}, ["img"]),
    (["-c5", "x"], {"count": 5}, ["x"]),
    (["--name", "web", "--tty=false", "--", "-it"], {"name": "web", "tty": False}, ["-it"]),
    (["-name", "web", "img", "-it"], {"name": "web"}, ["img", "-it"]),  # Go's single-dash long name; stops at img
])
def test_combined_short_flags(argv, opts, rest):
    assert parse_flags(argv, FLAGS, SHORT, combine_short=True) == (opts, rest)


@pytest.mark.parametrize("argv,message", [
    (["-ix"], "unknown shorthand flag: 'x' in -ix"),
    (["-in"], "flag needs an argument: 'n' in -in"),
    (["--bogus"], "flag provided but not defined: -bogus"),
    (["--count", "many"], "invalid value 'many' for flag -count"),
    (["--name"], "flag needs an argument: -name"),
])
def test_errors(argv, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        parse_flags(argv, FLAGS, SHORT, combine_short=True)


def test_without_combining_a_group_is_an_unknown_flag():
    """runc's CLI (Go flags) takes no groups: -it is a flag named it."""
    with pytest.raises(UsageError, match="flag provided but not defined: -it"):
        parse_flags(["-it"], FLAGS, SHORT)


def test_runc_reorders_flags_as_urfave_cli_1_22():
    from busybox_engine.runtime.cli.help import reorder
    flags = {"pids-limit": int, "memory": str, "force": bool, "all": bool}
    assert reorder(["ID", "--pids-limit", "-1"], flags, {}) == ["--pids-limit", "-1", "ID"]
    assert reorder(["--pids-limit", "-1", "ID"], flags, {}) == ["--pids-limit", "-1", "ID"]
    assert reorder(["ID", "--memory=1m", "x"], flags, {}) == ["--memory=1m", "ID", "x"]
    # a flag after a flag is not its value; `--` after a flag is
    assert reorder(["ID", "--force", "--all"], flags, {}) == ["--force", "--all", "ID"]
    assert reorder(["--memory", "--", "ID"], flags, {}) == ["--memory", "--", "ID"]
    assert reorder(["ID", "--", "--force"], flags, {}) == ["ID", "--", "--force"]
    # urfave's quirk: a bool flag takes the next word along (kill ID --all KILL: KILL is the id)
    assert reorder(["ID", "--all", "KILL"], flags, {}) == ["--all", "KILL", "ID"]
