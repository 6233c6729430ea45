"""Every command of our docker client, every flag: bad command lines get
one clear line and Docker's exit code, never a traceback (generated from
the commands' own flag tables)."""
import contextlib
import importlib
import io

import pytest

from busybox_engine.cli import main as cli_main
from busybox_engine.cli.commands import COMMANDS, GROUPS


def _argv(name: str) -> list:
    return name.split(" ")


def _specs():
    for name, module in sorted(COMMANDS.items()):
        spec, _run = importlib.import_module(f"busybox_engine.cli.commands.{module}").SPECS[name]
        yield name, spec


def run(argv, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli_main.main(argv)
        except SystemExit as e:
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


CASES = []
for _name, _spec in _specs():
    CASES.append((_argv(_name) + ["--no-such-flag"], 125, "unknown flag: --no-such-flag"))
    CASES.append((_argv(_name) + ["-%"], 125, "unknown shorthand flag: '%' in -%"))
    for _f in _spec.flags.flags:
        if _f.kind != "bool":
            CASES.append((_argv(_name) + [f"--{_f.name}"], 125, f"flag needs an argument: --{_f.name}"))
        if _f.kind in ("int", "uint", "bytes", "duration", "decimal", "float"):
            CASES.append((_argv(_name) + [f"--{_f.name}", "x?y", "a", "b"], 125, 'invalid argument "x?y" for'))
        if _f.kind == "bool":
            CASES.append((_argv(_name) + [f"--{_f.name}=maybe", "a", "b"], 125, 'invalid argument "maybe" for'))
    if _spec.min_args or _spec.exact_args:
        CASES.append((_argv(_name), 1, f'"docker {_name}" requires'))


@pytest.mark.parametrize("argv,status,first", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_command_lines(argv, status, first, monkeypatch, tmp_path):
    rc, out, err = run(argv, monkeypatch, tmp_path)
    assert rc == status, (rc, out, err)
    assert err.startswith(first), err
    assert "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name, monkeypatch, tmp_path):
    rc, out, err = run(_argv(name) + ["--help"], monkeypatch, tmp_path)
    assert rc == 0 and out.startswith(f"\nUsage:  docker {name}") and err == ""


@pytest.mark.parametrize("name", sorted(n for n in COMMANDS if " " not in n and n not in ("version",)))
def test_no_daemon_is_said_plainly(name, monkeypatch, tmp_path):
    """With arguments that parse, a missing daemon is one of Docker's
    sentences, not a traceback."""
    rc, out, err = run([name, "a1", "b2"] if name not in ("ps", "images", "info", "events", "load") else [name],
                       monkeypatch, tmp_path)
    assert rc != 0 and "Traceback" not in err and "internal error" not in err, err
    assert ("Cannot connect to the Docker daemon" in err or "requires" in err or "accepts" in err
            or "requested load" in err or "cowardly" in err or "must specify" in err or "lstat" in err
            or "you must provide" in err or "not supported" in err or "Cannot perform" in err
            or err.startswith(("open a1: ", "read from stdin"))), err


def test_groups_resolve():
    for group, subs in GROUPS.items():
        for sub, name in subs.items():
            assert name in COMMANDS, (group, sub)
