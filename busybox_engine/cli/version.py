"""`docker version`: client and server versions, as docker prints them."""
import platform

from busybox_engine import __version__
from busybox_engine._build_info import BUILD_ID, BUILD_TIME

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
