"""docker volume and docker network: create, ls, inspect, rm, prune,
connect, disconnect."""
import sys

from busybox_engine.cli import fastjson as json
from busybox_engine.cli.api import DaemonError, error_text, filters_json, q
from busybox_engine.cli.commands.containers import short_id
from busybox_engine.cli.flags import Command, Flag, kv_map as _kv_list
from busybox_engine.cli.goformat import TemplateError
from busybox_engine.cli.jsonfmt import indent_list
from busybox_engine.cli.output import compile_template, human_size, parse_format




def confirm(message: str) -> bool:
    sys.stdout.write(f"{message}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def inspect_each(ctx, names: list, path: str, fmt: str, what: str) -> int:
    tmpl = None
    if fmt:
        try:
            tmpl = compile_template(fmt)
        except TemplateError as e:
            sys.stderr.write(f"template parsing error: {e}\n")
            return 64
    raws, missing = [], []
    for n in names:
        try:
            raw = ctx.api.request("GET", path.format(q(n))).body.decode()
        except DaemonError as e:
            if e.status != 404:
                sys.stderr.write(f"Error response from daemon: {e.message}\n")
                return 1
            missing.append(n)
            continue
        if tmpl is None:
            raws.append(raw)
        else:
            try:
                sys.stdout.write(tmpl.render(json.loads(raw)) + "\n")
            except TemplateError as e:
                sys.stderr.write(f"{e}\n")
                return 1
    if tmpl is None:
        sys.stdout.write(indent_list(raws) + "\n")
    if missing:
        sys.stdout.flush()
        sys.stderr.write("".join(f"Error: No such {what}: {n}\n" for n in missing))
        return 1
    return 0


# --- volumes --------------------------------------------------------------------------------

class VolumeRow:
    def __init__(self, v: dict):
        self.v = v

    def Name(self):
        return self.v.get("Name", "")

    def Driver(self):
        return self.v.get("Driver", "")

    def Scope(self):
        return self.v.get("Scope", "")

    def Mountpoint(self):
        return self.v.get("Mountpoint", "")

    def Labels(self):
        return ",".join(f"{k}={v}" for k, v in sorted((self.v.get("Labels") or {}).items()))

    def Label(self, name):
        return (self.v.get("Labels") or {}).get(name, "")

    def Links(self):
        usage = self.v.get("UsageData") or {}
        return "N/A" if usage.get("RefCount", -1) < 0 else str(usage["RefCount"])

    def Size(self):
        usage = self.v.get("UsageData") or {}
        return "N/A" if usage.get("Size", -1) < 0 else human_size(usage["Size"])

    def json_dict(self):
        return {k: getattr(self, k)() for k in ("Driver", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size")}


VOLUME_HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
                  "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE"}

VOLUME_CREATE = Command("docker volume create", "docker volume create [OPTIONS] [VOLUME]", "Create a volume",
                        max_args=1, flags=[
                            Flag("driver", "string", short="d", default="local", help="Specify volume driver name"),
                            Flag("label", "list", help="Set metadata for a volume"),
                            Flag("name", "string", help="Specify volume name", hidden=True),
                            Flag("opt", "list", short="o", tname="map", shown_default="map[]",
                                 help="Set driver specific options"),
                        ])


def volume_create(ctx, v, args) -> int:
    name = v.name
    if args:
        if name and name != args[0]:
            sys.stderr.write("Conflicting options: either specify --name or provide positional arg, not both\n")
            return 1
        name = args[0]
    body = {"Name": name, "Driver": v.driver, "DriverOpts": _kv_list(v.opt), "Labels": _kv_list(v.label)}
    out = ctx.api.post("/volumes/create", body=body).json() or {}
    sys.stdout.write(out.get("Name", "") + "\n")
    return 0


VOLUME_LS = Command("docker volume ls", "docker volume ls [OPTIONS]", "List volumes", max_args=0, flags=[
    Flag("filter", "filter", short="f", help="Provide filter values (e.g. 'dangling=true')"),
    Flag("format", "string", help="Pretty-print volumes using a Go template"),
    Flag("quiet", short="q", help="Only display volume names"),
])


def volume_ls(ctx, v, args) -> int:
    fmt = "{{.Name}}" if v.quiet else (v.format or ctx.config.get("volumesFormat") or
                                          "table {{.Driver}}\t{{.Name}}")
    if fmt == "table":
        fmt = "table {{.Driver}}\t{{.Name}}"
    formatter = parse_format(fmt, VOLUME_HEADERS)
    out = ctx.api.get("/volumes", {"filters": filters_json(v.filter)}) or {}
    vols = sorted(out.get("Volumes") or [], key=lambda x: x.get("Name", ""))
    sys.stdout.write(formatter.render([VolumeRow(x) for x in vols]))
    for w in out.get("Warnings") or []:
        sys.stderr.write(w + "\n")
    return 0


VOLUME_INSPECT = Command("docker volume inspect", "docker volume inspect [OPTIONS] VOLUME [VOLUME...]",
                         "Display detailed information on one or more volumes", min_args=1, flags=[
                             Flag("format", "string", short="f", help="Format the output using the given Go template"),
                         ])


def volume_inspect(ctx, v, args) -> int:
    return inspect_each(ctx, args, "/volumes/{}", v.format, "volume")


VOLUME_RM = Command("docker volume rm", "docker volume rm [OPTIONS] VOLUME [VOLUME...]",
                    "Remove one or more volumes",
                    long="Remove one or more volumes. You cannot remove a volume that is in use by a container.",
                    examples="\n$ docker volume rm hello\nhello\n",
                    min_args=1, flags=[Flag("force", short="f", help="Force the removal of one or more volumes")])


def volume_rm(ctx, v, args) -> int:
    errs = []
    for n in args:
        try:
            ctx.api.delete(f"/volumes/{q(n)}", {"force": "1" if v.force else None})
        except DaemonError as e:
            errs.append(error_text(e, "volume", n))
            continue
        sys.stdout.write(n + "\n")
    if errs:
        sys.stdout.flush()
        sys.stderr.write("\n".join(errs) + "\n")
        return 1
    return 0


VOLUME_PRUNE = Command("docker volume prune", "docker volume prune [OPTIONS]", "Remove all unused local volumes",
                       max_args=0, flags=[
                           Flag("filter", "filter", help="Provide filter values (e.g. 'label=<label>')"),
                           Flag("force", short="f", help="Do not prompt for confirmation"),
                       ])


def volume_prune(ctx, v, args) -> int:
    if not v.force and not confirm("WARNING! This will remove all local volumes not used by at least one container."):
        return 0
    out = ctx.api.post("/volumes/prune", {"filters": filters_json(v.filter)}).json() or {}
    deleted = out.get("VolumesDeleted") or []
    if deleted:
        sys.stdout.write("Deleted Volumes:\n" + "".join(d + "\n" for d in deleted) + "\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(out.get('SpaceReclaimed') or 0)}\n")
    return 0


# --- networks -------------------------------------------------------------------------------

class NetworkRow:
    def __init__(self, n: dict, trunc: bool):
        self.n = n
        self.trunc = trunc

    def ID(self):
        return short_id(self.n.get("Id", "")) if self.trunc else self.n.get("Id", "")

    def Name(self):
        return self.n.get("Name", "")

    def Driver(self):
        return self.n.get("Driver", "")

    def Scope(self):
        return self.n.get("Scope", "")

    def IPv6(self):
        return "true" if self.n.get("EnableIPv6") else "false"

    def Internal(self):
        return "true" if self.n.get("Internal") else "false"

    def Labels(self):
        return ",".join(f"{k}={v}" for k, v in sorted((self.n.get("Labels") or {}).items()))

    def Label(self, name):
        return (self.n.get("Labels") or {}).get(name, "")

    def CreatedAt(self):
        from busybox_engine.cli.commands.containers import go_time
        from busybox_engine.util.timefmt import parse_rfc3339
        return go_time(parse_rfc3339(self.n.get("Created", "")))

    def json_dict(self):
        return {k: getattr(self, k)() for k in ("CreatedAt", "Driver", "ID", "IPv6", "Internal", "Labels", "Name",
                                                 "Scope")}


NETWORK_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
                   "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}

NETWORK_LS = Command("docker network ls", "docker network ls [OPTIONS]", "List networks", max_args=0, flags=[
    Flag("filter", "filter", short="f", help="Provide filter values (e.g. 'driver=bridge')"),
    Flag("format", "string", help="Pretty-print networks using a Go template"),
    Flag("no-trunc", help="Do not truncate the output"),
    Flag("quiet", short="q", help="Only display network IDs"),
])


def network_ls(ctx, v, args) -> int:
    fmt = "{{.ID}}" if v.quiet else (v.format or ctx.config.get("networksFormat") or
                                        "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}")
    if fmt == "table":
        fmt = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
    formatter = parse_format(fmt, NETWORK_HEADERS)
    nets = sorted(ctx.api.get("/networks", {"filters": filters_json(v.filter)}) or [],
                  key=lambda n: n.get("Name", ""))
    sys.stdout.write(formatter.render([NetworkRow(n, not v.no_trunc) for n in nets]))
    return 0


NETWORK_INSPECT = Command("docker network inspect", "docker network inspect [OPTIONS] NETWORK [NETWORK...]",
                          "Display detailed information on one or more networks", min_args=1, flags=[
                              Flag("format", "string", short="f", help="Format the output using the given Go template"),
                              Flag("verbose", short="v", help="Verbose output for diagnostics"),
                          ])


def network_inspect(ctx, v, args) -> int:
    return inspect_each(ctx, args, "/networks/{}", v.format, "network")


NETWORK_CREATE = Command("docker network create", "docker network create [OPTIONS] NETWORK", "Create a network",
                         exact_args=1, flags=[
                             Flag("attachable", help="Enable manual container attachment"),
                             Flag("aux-address", "list", tname="map", shown_default="map[]",
                                  help="Auxiliary IPv4 or IPv6 addresses used by Network driver"),
                             Flag("config-from", "string", help="The network from which to copy the configuration"),
                             Flag("config-only", help="Create a configuration only network"),
                             Flag("driver", "string", short="d", default="bridge", help="Driver to manage the Network"),
                             Flag("gateway", "stringSlice", help="IPv4 or IPv6 Gateway for the master subnet"),
                             Flag("ingress", help="Create swarm routing-mesh network"),
                             Flag("internal", help="Restrict external access to the network"),
                             Flag("ip-range", "stringSlice", help="Allocate container ip from a sub-range"),
                             Flag("ipam-driver", "string", default="default", help="IP Address Management Driver"),
                             Flag("ipam-opt", "list", tname="map", shown_default="map[]",
                                  help="Set IPAM driver specific options"),
                             Flag("ipv6", help="Enable IPv6 networking"),
                             Flag("label", "list", help="Set metadata on a network"),
                             Flag("opt", "list", short="o", tname="map", shown_default="map[]",
                                  help="Set driver specific options"),
                             Flag("scope", "string", help="Control the network's scope"),
                             Flag("subnet", "stringSlice", help="Subnet in CIDR format that represents a network segment"),
                         ])


class IpamError(Exception):
    pass


def _contains(subnet: str, data: str) -> bool:
    """Is data (an address, or a CIDR's address) inside subnet? (Go's
    subnetMatches, with its error texts.)"""
    import ipaddress
    try:
        net = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        raise IpamError(f"invalid subnet: invalid CIDR address: {subnet}") from None
    try:
        ip = ipaddress.ip_interface(data).ip if "/" in data else ipaddress.ip_address(data)
    except ValueError:
        if "/" in data:
            raise IpamError(f"invalid CIDR address: {data}") from None
        return False
    return ip.version == net.version and ip in net


def consolidate_ipam(subnets: list, ranges: list, gateways: list, aux: dict) -> list:
    """IPAM.Config of network create's flags, each range, gateway and
    aux-address placed in the subnet that holds it (as the 20.10 CLI)."""
    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise IpamError("every ip-range or gateway must have a corresponding subnet")
    data = {}
    for s in subnets:
        for k in data:
            if _contains(s, k) or _contains(k, s):
                raise IpamError("multiple overlapping subnet configuration is not supported")
        data[s] = {"Subnet": s}
    for values, key, what, many in ((ranges, "IPRange", "range", "ranges (%s, %s) on"),
                                    (gateways, "Gateway", "gateway", "gateways (%s, %s) for")):
        for r in values:
            match = False
            for s in subnets:
                if not _contains(s, r):
                    continue
                if data[s].get(key):
                    raise IpamError(f"cannot configure multiple {many % (r, data[s][key])} the same subnet ({s})")
                data[s][key] = r
                match = True
            if not match:
                raise IpamError(f"no matching subnet for {what} {r}")
    for name, addr in aux.items():
        match = False
        for s in subnets:
            if _contains(s, addr):
                data[s].setdefault("AuxiliaryAddresses", {})[name] = addr
                match = True
        if not match:
            raise IpamError(f"no matching subnet for aux-address {addr}")
    return list(data.values())


def network_create(ctx, v, args) -> int:
    try:
        configs = consolidate_ipam(v.subnet, v.ip_range, v.gateway, _kv_list(v.aux_address))
    except IpamError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    body = {"Name": args[0], "CheckDuplicate": True, "Driver": v.driver, "Scope": v.scope,
            "EnableIPv6": v.ipv6, "IPAM": {"Driver": v.ipam_driver, "Config": configs,
                                           "Options": _kv_list(v.ipam_opt)},
            "Internal": v.internal, "Attachable": v.attachable, "Ingress": v.ingress,
            "ConfigOnly": v.config_only, "ConfigFrom": {"Network": v.config_from} if v.config_from else None,
            "Options": _kv_list(v.opt), "Labels": _kv_list(v.label)}
    out = ctx.api.post("/networks/create", body=body).json() or {}
    sys.stdout.write(out.get("Id", "") + "\n")
    return 0


NETWORK_RM = Command("docker network rm", "docker network rm NETWORK [NETWORK...]", "Remove one or more networks",
                     min_args=1)


def network_rm(ctx, v, args) -> int:
    from busybox_engine.cli.commands.containers import _each
    return _each(ctx, args, lambda n: ctx.api.delete(f"/networks/{q(n)}"), "network")


def _link(text: str) -> None:
    from busybox_engine.cli.commands.createopts import parse_link
    parse_link(text)


NETWORK_CONNECT = Command("docker network connect", "docker network connect [OPTIONS] NETWORK CONTAINER",
                          "Connect a container to a network", exact_args=2, flags=[
                              Flag("alias", "stringSlice", help="Add network-scoped alias for the container"),
                              Flag("driver-opt", "stringSlice", help="driver options for the network"),
                              Flag("ip", "string", help="IPv4 address (e.g., 172.30.100.104)"),
                              Flag("ip6", "string", help="IPv6 address (e.g., 2001:db8::33)"),
                              Flag("link", "list", help="Add link to another container", check=_link),
                              Flag("link-local-ip", "stringSlice", help="Add a link-local address for the container"),
                          ])


def network_connect(ctx, v, args) -> int:
    opts = {}
    for o in v.driver_opt:
        k, eq, val = o.partition("=")
        if not eq:
            sys.stderr.write("invalid key/value pair format in driver options\n")
            return 1
        opts[k.strip()] = val.strip()
    from busybox_engine.cli.commands.createopts import endpoint_settings
    ipam = {k: val for k, val in (("IPv4Address", v.ip), ("IPv6Address", v.ip6), ("LinkLocalIPs", v.link_local_ip))
            if val}
    ep = endpoint_settings(ipam, v.link, v.alias, opts)
    ep.update(Aliases=v.alias, DriverOpts=opts)   # connect sends them empty, not null
    ctx.api.post(f"/networks/{q(args[0])}/connect", body={"Container": args[1], "EndpointConfig": ep})
    return 0


NETWORK_DISCONNECT = Command("docker network disconnect", "docker network disconnect [OPTIONS] NETWORK CONTAINER",
                             "Disconnect a container from a network", exact_args=2, flags=[
                                 Flag("force", short="f", help="Force the container to disconnect from a network"),
                             ])


def network_disconnect(ctx, v, args) -> int:
    ctx.api.post(f"/networks/{q(args[0])}/disconnect", body={"Container": args[1], "Force": v.force})
    return 0


NETWORK_PRUNE = Command("docker network prune", "docker network prune [OPTIONS]", "Remove all unused networks",
                        max_args=0, flags=[
                            Flag("filter", "filter", help="Provide filter values (e.g. 'until=<timestamp>')"),
                            Flag("force", short="f", help="Do not prompt for confirmation"),
                        ])


def network_prune(ctx, v, args) -> int:
    if not v.force and not confirm("WARNING! This will remove all custom networks not used by at least one container."):
        return 0
    out = ctx.api.post("/networks/prune", {"filters": filters_json(v.filter)}).json() or {}
    deleted = out.get("NetworksDeleted") or []
    if deleted:
        sys.stdout.write("Deleted Networks:\n" + "".join(d + "\n" for d in deleted) + "\n")
    return 0


SPECS = {
    "volume create": (VOLUME_CREATE, volume_create), "volume ls": (VOLUME_LS, volume_ls),
    "volume inspect": (VOLUME_INSPECT, volume_inspect), "volume rm": (VOLUME_RM, volume_rm),
    "volume prune": (VOLUME_PRUNE, volume_prune),
    "network ls": (NETWORK_LS, network_ls), "network inspect": (NETWORK_INSPECT, network_inspect),
    "network create": (NETWORK_CREATE, network_create), "network rm": (NETWORK_RM, network_rm),
    "network connect": (NETWORK_CONNECT, network_connect),
    "network disconnect": (NETWORK_DISCONNECT, network_disconnect),
    "network prune": (NETWORK_PRUNE, network_prune),
}
