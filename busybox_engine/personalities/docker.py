"""docker: the client for the Docker Engine API."""
import os
import sys

from busybox_engine import __version__

DEFAULT_HOST = "unix:///run/busybox-engine/docker.sock"
COMMANDS = ("version",)
FAST_EXIT = True  # see dispatch.run_personality

USAGE = """
Usage:  docker [OPTIONS] COMMAND

A self-sufficient runtime for containers

Options:
  -H, --host string    Daemon socket to connect to
  -v, --version        Print version information and quit

Commands:
  version     Show the Docker version information
"""


def main(argv: list) -> int:
    host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    args = list(argv)
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt in ("-v", "--version"):
            from busybox_engine._build_info import BUILD_ID
            sys.stdout.write(f"Docker version {__version__}, build {BUILD_ID}\n")
            return 0
        if opt in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        if opt in ("-H", "--host") and args:
            host = args.pop(0)
        elif opt.startswith("--host="):
            host = opt.split("=", 1)[1]
        else:
            sys.stderr.write(f"unknown flag: {opt}\nSee 'docker --help'.\n")
            return 125
    if not args:
        sys.stdout.write(USAGE)
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        sys.stderr.write(f"docker: '{command}' is not a docker command.\n"
                         "See 'docker --help'\n")
        return 1
    if not host.startswith("unix://"):
        sys.stderr.write(f"docker: unsupported host {host}: only unix:// sockets\n")
        return 1
    from busybox_engine.cli.http import UnixHTTPClient
    client = UnixHTTPClient(host[len("unix://"):])
    try:
        from busybox_engine.cli import version
        return version.run(client, host, rest)
    finally:
        client.close()
