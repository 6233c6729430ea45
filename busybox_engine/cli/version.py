"""`docker version`: client and server versions, as docker prints them."""
import platform
import sys

from busybox_engine import __version__
from busybox_engine._build_info import BUILD_ID, BUILD_TIME
from busybox_engine.cli.http import ConnectError

CLIENT_API_VERSION = "1.41"


def _arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def client_lines() -> list:
    return ["Client:",
            f" Version:           {__version__}",
            f" API version:       {CLIENT_API_VERSION}",
            f" Go version:        python{platform.python_version()}",
            f" Git commit:        {BUILD_ID}",
            f" Built:             {BUILD_TIME or 'unknown'}",
            f" OS/Arch:           linux/{_arch()}",
            " Context:           default"]


def server_lines(v: dict) -> list:
    name = (v.get("Platform") or {}).get("Name", "")
    out = ["", f"Server: {name}".rstrip()]
    for comp in v.get("Components") or []:
        details = comp.get("Details") or {}
        out.append(f" {comp.get('Name')}:")
        if comp.get("Name") == "Engine":
            out += [f"  Version:          {comp.get('Version')}",
                    f"  API version:      {details.get('ApiVersion')} "
                    f"(minimum version {details.get('MinAPIVersion')})",
                    f"  Go version:       {details.get('GoVersion')}",
                    f"  Git commit:       {details.get('GitCommit')}",
                    f"  Built:            {details.get('BuildTime')}",
                    f"  OS/Arch:          {details.get('Os')}/{details.get('Arch')}",
                    f"  Experimental:     {details.get('Experimental')}"]
        else:
            out.append(f"  Version:          {comp.get('Version')}")
            for k, val in details.items():
                out.append(f"  {k + ':':<18}{val}")
    return out


def run(client, host: str, argv: list) -> int:
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write("\nUsage:  docker version\n\nShow the Docker version information\n")
        return 0
    if argv:
        sys.stderr.write(f"unknown flag: {argv[0]}\nSee 'docker version --help'.\n")
        return 125
    sys.stdout.write("\n".join(client_lines()) + "\n")
    try:
        resp = client.request("GET", f"/v{CLIENT_API_VERSION}/version")
    except ConnectError:
        sys.stdout.flush()
        sys.stderr.write(f"Cannot connect to the Docker daemon at {host}. "
                         "Is the docker daemon running?\n")
        return 1
    if resp.status != 200:
        sys.stderr.write(f"Error response from daemon: {resp.error_message()}\n")
        return 1
    sys.stdout.write("\n".join(server_lines(resp.json())) + "\n")
    return 0
