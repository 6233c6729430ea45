"""docker context ls, use, create, rm, inspect, show."""
import os
import sys

from busybox_engine.cli import contexts
from busybox_engine.cli.flags import Command, Flag
from busybox_engine.cli.output import parse_format


class ContextRow:
    def __init__(self, name, description, host, current):
        self.name, self.description, self.host, self.current = name, description, host, current

    def Name(self):
        return self.name

    def Description(self):
        return self.description

    def DockerEndpoint(self):
        return self.host

    def KubernetesEndpoint(self):
        return ""

    def StackOrchestrator(self):
        return "swarm" if self.name == "default" else ""

    def Current(self):
        return self.current

    def json_dict(self):
        return {"Current": self.current, "Description": self.description, "DockerEndpoint": self.host,
                "KubernetesEndpoint": "", "Name": self.name, "StackOrchestrator": self.StackOrchestrator()}


CTX_HEADERS = {"Name": "NAME", "Description": "DESCRIPTION", "DockerEndpoint": "DOCKER ENDPOINT",
               "KubernetesEndpoint": "KUBERNETES ENDPOINT", "StackOrchestrator": "ORCHESTRATOR"}

LS = Command("docker context ls", "docker context ls [OPTIONS]", "List contexts", max_args=0, flags=[
    Flag("format", "string", help="Pretty-print contexts using a Go template"),
    Flag("quiet", short="q", help="Only show context names"),
])


def _current(ctx) -> str:
    return ctx.opts.get("context") or contexts.current(ctx.config)


def ls(ctx, v, args) -> int:
    cur = _current(ctx)
    default_host = os.environ.get("DOCKER_HOST") or contexts.DEFAULT_HOST
    rows = [ContextRow("default", "Current DOCKER_HOST based configuration", default_host, cur == "default")]
    for meta in contexts.names(ctx.config_dir):
        name = meta.get("Name", "")
        ep = (meta.get("Endpoints") or {}).get("docker") or {}
        rows.append(ContextRow(name, (meta.get("Metadata") or {}).get("Description", ""), ep.get("Host", ""),
                               name == cur))
    fmt = v.format or ("table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.DockerEndpoint}}"
                       "\t{{.KubernetesEndpoint}}\t{{.StackOrchestrator}}")
    if v.quiet:
        sys.stdout.write("".join(r.name + "\n" for r in rows))
        return 0
    sys.stdout.write(parse_format(fmt, CTX_HEADERS).render(rows))
    return 0


USE = Command("docker context use", "docker context use CONTEXT", "Set the current docker context", exact_args=1)


def _save_current(ctx, name: str) -> None:
    import json
    path = os.path.join(ctx.config_dir, "config.json")
    cfg = dict(ctx.config)
    if name == "default":
        cfg.pop("currentContext", None)
    else:
        cfg["currentContext"] = name
    os.makedirs(ctx.config_dir, mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(json.dumps(cfg, indent="\t") + "\n")
    os.replace(tmp, path)


def use(ctx, v, args) -> int:
    name = args[0]
    if name != "default":
        try:
            contexts.load(ctx.config_dir, name)
        except contexts.ContextError as e:
            sys.stderr.write(f"{e}\n")
            return 1
    _save_current(ctx, name)
    sys.stdout.write(name + "\n")
    sys.stderr.write(f"Current context is now \"{name}\"\n")
    if os.environ.get("DOCKER_HOST"):
        sys.stderr.write("Warning: DOCKER_HOST environment variable overrides the active context. "
                         "To use a context, either set the global --context flag, or unset DOCKER_HOST "
                         "environment variable.\n")
    return 0


CREATE_LONG = """Create a context

Docker endpoint config:

NAME                DESCRIPTION
from                Copy named context's Docker endpoint configuration
host                Docker endpoint on which to connect
ca                  Trust certs signed only by this CA
cert                Path to TLS certificate file
key                 Path to TLS key file
skip-tls-verify     Skip TLS certificate validation

Kubernetes endpoint config:

NAME                 DESCRIPTION
from                 Copy named context's Kubernetes endpoint configuration
config-file          Path to a Kubernetes config file
context-override     Overrides the context set in the kubernetes config file
namespace-override   Overrides the namespace set in the kubernetes config file

Example:

$ docker context create my-context --description "some description" --docker \
"host=tcp://myserver:2376,ca=~/ca-file,cert=~/cert-file,key=~/key-file\""""

CREATE = Command("docker context create", "docker context create [OPTIONS] CONTEXT", "Create a context",
                 long=CREATE_LONG, exact_args=1, flags=[
                     # 20.10 still lists its Kubernetes settings; they are accepted and unused
                     Flag("default-stack-orchestrator", "string",
                          help="Default orchestrator for stack operations to use with this context "
                               "(swarm|kubernetes|all)"),
                     Flag("description", "string", help="Description of the context"),
                     Flag("docker", "string", tname="stringToString", shown_default="[]",
                          help="set the docker endpoint"),
                     Flag("from", "string", help="create context from a named context"),
                     Flag("kubernetes", "string", tname="stringToString", shown_default="[]",
                          help="set the kubernetes endpoint"),
                 ])


def _parse_endpoint(spec: str) -> tuple:
    fields = {}
    for part in spec.split(","):
        if not part:
            continue
        k, eq, val = part.partition("=")
        if not eq:
            raise contexts.ContextError(f"invalid docker endpoint options: {spec}")
        if k not in ("host", "ca", "cert", "key", "skip-tls-verify", "from"):
            raise contexts.ContextError(f"unrecognized config key: {k}")
        fields[k] = val
    return fields


def create(ctx, v, args) -> int:
    name = args[0]
    import re
    if name == "default" or not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.+-]+", name):
        sys.stderr.write(f"context name \"{name}\" is invalid, names are validated against regexp "
                         "\"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$\"\n" if name != "default" else
                         "\"default\" is a reserved context name\n")
        return 1
    if any(m.get("Name") == name for m in contexts.names(ctx.config_dir)):
        sys.stderr.write(f"context \"{name}\" already exists\n")
        return 1
    try:
        fields = _parse_endpoint(v.docker) if v.docker else {}
    except contexts.ContextError as e:
        sys.stderr.write(f"unable to create docker endpoint config: {e}\n")
        return 1
    host = fields.get("host") or os.environ.get("DOCKER_HOST") or contexts.DEFAULT_HOST
    tls = {k: fields[k] for k in ("ca", "cert", "key") if fields.get(k)}
    for k, path in tls.items():
        if not os.path.exists(path):
            sys.stderr.write(f"unable to create docker endpoint config: open {path}: no such file or directory\n")
            return 1
    meta = {"Name": name, "Metadata": {"Description": v.description} if v.description else {},
            "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": fields.get("skip-tls-verify") == "true"}}}
    contexts.save(ctx.config_dir, name, meta, tls)
    sys.stdout.write(name + "\n")
    sys.stderr.write(f"Successfully created context \"{name}\"\n")
    return 0


RM = Command("docker context rm", "docker context rm CONTEXT [CONTEXT...]", "Remove one or more contexts",
             min_args=1, flags=[Flag("force", short="f", help="Force the removal of a context in use")])


def rm(ctx, v, args) -> int:
    failed = []
    cur = contexts.current(ctx.config)
    for name in args:
        if name == "default":
            failed.append("default: context \"default\" cannot be removed")
            continue
        try:
            contexts.load(ctx.config_dir, name)
        except contexts.ContextError:
            failed.append(f"{name}: context \"{name}\" does not exist")
            continue
        if name == cur:
            if not v.force:
                failed.append(f"{name}: context \"{name}\" is in use, set -f flag to force remove")
                continue
            _save_current(ctx, "default")
        contexts.remove(ctx.config_dir, name)
        sys.stdout.write(name + "\n")
    if failed:
        sys.stderr.write("\n".join(failed) + "\n")
        return 1
    return 0


INSPECT = Command("docker context inspect", "docker context inspect [OPTIONS] [CONTEXT] [CONTEXT...]",
                  "Display detailed information on one or more contexts", flags=[
                      Flag("format", "string", short="f", help="Format the output using the given Go template"),
                  ])


def inspect(ctx, v, args) -> int:
    from busybox_engine.cli import fastjson
    from busybox_engine.cli.jsonfmt import indent_list
    from busybox_engine.cli.output import compile_template
    items = []
    for name in args or [_current(ctx)]:
        if name == "default":
            host = os.environ.get("DOCKER_HOST") or contexts.DEFAULT_HOST
            items.append({"Name": "default", "Metadata": {"StackOrchestrator": "swarm"},
                          "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}},
                          "TLSMaterial": {}, "Storage": {"MetadataPath": "<IN MEMORY>", "TLSPath": "<IN MEMORY>"}})
            continue
        try:
            meta = contexts.load(ctx.config_dir, name)
        except contexts.ContextError as e:
            sys.stderr.write(f"{e}\n")
            return 1
        files = contexts.tls_files(ctx.config_dir, name)
        items.append(dict(meta, TLSMaterial={"docker": sorted(f"{k}.pem" for k in files)} if files else {},
                          Storage={"MetadataPath": contexts._dir(ctx.config_dir, "meta", name),
                                   "TLSPath": contexts._dir(ctx.config_dir, "tls", name)}))
    if v.format:
        tmpl = compile_template(v.format)
        for it in items:
            sys.stdout.write(tmpl.render(it) + "\n")
        return 0
    sys.stdout.write(indent_list([fastjson.dumps(i) for i in items]) + "\n")
    return 0


SHOW = Command("docker context show", "docker context show", "Print the name of the current context", max_args=0)


def show(ctx, v, args) -> int:
    sys.stdout.write(_current(ctx) + "\n")
    return 0


SPECS = {"context ls": (LS, ls), "context use": (USE, use), "context create": (CREATE, create),
         "context rm": (RM, rm), "context inspect": (INSPECT, inspect), "context show": (SHOW, show)}
