"""--add-host NAME:IP (or NAME:host-gateway): the check the docker CLI
makes when the flag is set and dockerd makes at create, in their words."""


def check(entry: str) -> None:
    """ValueError with Docker's message for a bad entry."""
    import ipaddress
    name, sep, addr = str(entry).partition(":")
    if not sep or not name:
        raise ValueError(f'bad format for add-host: "{entry}"')
    if addr != "host-gateway":
        try:
            ipaddress.ip_address(addr.strip("[]"))
        except ValueError:
            raise ValueError(f'invalid IP address in add-host: "{addr}"') from None
