"""Flags parsed as the docker CLI (pflag/cobra) parses them, with its words."""
import pytest

from busybox_engine.cli.flags import Command, Flag, HelpRequested, UsageError, parse_bytes, parse_duration

RUN = Command("docker run", "docker run [OPTIONS] IMAGE [COMMAND] [ARG...]",
              "Run a command in a new container", min_args=1, interspersed=False, flags=[
                  Flag("detach", short="d", help="Run container in background and print container ID"),
                  Flag("interactive", short="i", help="Keep STDIN open even if not attached"),
                  Flag("tty", short="t", help="Allocate a pseudo-TTY"),
                  Flag("rm", help="Automatically remove the container when it exits"),
                  Flag("name", "string", help="Assign a name to the container"),
                  Flag("env", "list", short="e", help="Set environment variables"),
                  Flag("user", "string", short="u", help="Username or UID"),
                  Flag("cpu-shares", "int", short="c", help="CPU shares (relative weight)"),
                  Flag("memory", "bytes", short="m", help="Memory limit"),
                  Flag("stop-timeout", "int", help="Timeout (in seconds) to stop a container"),
                  Flag("health-interval", "duration", help="Time between running the check"),
              ])


def test_combined_shorts_values_and_repeats():
    v, args = RUN.parse(["-dit", "-e", "A=1", "-eB=2", "--env=C=3", "-uroot", "--name", "x", "-m", "8m",
                         "--rm", "busybox", "sh", "-c", "echo -e hi"])
    assert (v.detach, v.interactive, v.tty, v.rm) == (True, True, True, True)
    assert v.env == ["A=1", "B=2", "C=3"] and v.user == "root" and v.name == "x"
    assert v.memory == 8 * 1024 * 1024
    assert args == ["busybox", "sh", "-c", "echo -e hi"]     # flags end at the image
    assert {"detach", "env", "memory"} <= v.given and "cpu_shares" not in v.given


def test_bool_values_last_wins_and_double_dash():
    v, args = RUN.parse(["--rm=false", "-d=true", "--name=a", "--name=b", "--", "-image-"])
    assert v.rm is False and v.detach is True and v.name == "b" and args == ["-image-"]
    v, _ = RUN.parse(["-u=nobody", "--health-interval", "1m30s", "img"])
    assert v.user == "nobody" and v.health_interval == 90


@pytest.mark.parametrize("argv,message", [
    (["--foo", "x"], "unknown flag: --foo"),
    (["-z", "x"], "unknown shorthand flag: 'z' in -z"),
    (["-dz", "x"], "unknown shorthand flag: 'z' in -dz"),
    (["--name"], "flag needs an argument: --name"),
    (["-u"], "flag needs an argument: 'u' in -u"),
    (["-c", "abc", "x"], 'invalid argument "abc" for "-c, --cpu-shares" flag: '
                         'strconv.ParseInt: parsing "abc": invalid syntax'),
    (["-m", "lots", "x"], 'invalid argument "lots" for "-m, --memory" flag: invalid size: \'lots\''),
    (["--rm=maybe", "x"], 'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": '
                          'invalid syntax'),
    (["--health-interval", "5", "x"], 'invalid argument "5" for "--health-interval" flag: '
                                      'time: missing unit in duration "5"'),
])
def test_bad_flags_say_what_pflag_says(argv, message):
    with pytest.raises(UsageError) as e:
        RUN.parse(argv)
    assert e.value.message == message and e.value.status == 125


def test_argument_counts_in_cobras_words():
    stop = Command("docker stop", "docker stop [OPTIONS] CONTAINER [CONTAINER...]",
                   "Stop one or more running containers", min_args=1,
                   flags=[Flag("time", "int", short="t", default=10,
                               help="Seconds to wait for stop before killing it")])
    with pytest.raises(UsageError) as e:
        stop.parse([])
    assert e.value.status == 1 and e.value.message == (
        "\"docker stop\" requires at least 1 argument.\nSee 'docker stop --help'.\n\n"
        "Usage:  docker stop [OPTIONS] CONTAINER [CONTAINER...]\n\nStop one or more running containers")
    ps = Command("docker ps", "docker ps [OPTIONS]", "List containers", max_args=0)
    with pytest.raises(UsageError, match='"docker ps" accepts no arguments.'):
        ps.parse(["x"])
    with pytest.raises(HelpRequested):
        stop.parse(["--help"])
    with pytest.raises(HelpRequested):
        stop.parse(["-h"])
    assert stop.help_text() == (
        "\nUsage:  docker stop [OPTIONS] CONTAINER [CONTAINER...]\n\nStop one or more running containers\n\n"
        "Options:\n  -t, --time int   Seconds to wait for stop before killing it (default 10)\n")


def test_interspersed_positionals_for_other_commands():
    rm = Command("docker rm", "docker rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove", min_args=1,
                 flags=[Flag("force", short="f"), Flag("volumes", short="v")])
    v, args = rm.parse(["a", "-f", "b", "-v"])
    assert args == ["a", "b"] and v.force and v.volumes


@pytest.mark.parametrize("text,n", [("8m", 8 << 20), ("1.5g", 3 << 29), ("512k", 512 << 10), ("100", 100),
                                    ("6MB", 6 << 20), ("1GiB", 1 << 30)])
def test_sizes(text, n):
    assert parse_bytes(text) == n


@pytest.mark.parametrize("text,s", [("1s", 1), ("100ms", 0.1), ("1h2m3s", 3723), ("0", 0), ("1.5m", 90)])
def test_durations(text, s):
    assert parse_duration(text) == pytest.approx(s)
