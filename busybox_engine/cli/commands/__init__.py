"""The docker client's commands: name -> (module, function), found
lazily so a command imports only its own module."""

# top-level name -> module under busybox_engine.cli.commands
COMMANDS = {
    "ps": "containers", "inspect": "inspect", "start": "containers", "stop": "containers",
    "restart": "containers", "kill": "containers", "rm": "containers", "pause": "containers",
    "unpause": "containers", "wait": "containers", "rename": "containers",
    "images": "images", "build": "build", "tag": "images", "rmi": "images", "run": "run", "create": "run",
    "logs": "logs", "exec": "logs", "attach": "logs",
    "pull": "registry", "push": "registry", "search": "registry", "login": "registry", "logout": "registry",
    "volume create": "objects", "volume ls": "objects", "volume inspect": "objects", "volume rm": "objects",
    "volume prune": "objects", "network ls": "objects", "network inspect": "objects",
    "network create": "objects", "network rm": "objects", "network connect": "objects",
    "network disconnect": "objects", "network prune": "objects",
    "top": "containerops", "port": "containerops", "diff": "containerops", "commit": "containerops",
    "export": "containerops", "update": "containerops", "cp": "containerops", "stats": "containerops",
    "container prune": "containerops",
    "history": "imageops", "save": "imageops", "load": "imageops", "import": "imageops",
    "image prune": "imageops",
    "image inspect": "inspect", "container inspect": "inspect",
    "completion bash": "completion", "completion fish": "completion", "completion powershell": "completion",
    "completion zsh": "completion",
    "context ls": "contextcmds", "context use": "contextcmds", "context create": "contextcmds",
    "context rm": "contextcmds", "context inspect": "contextcmds", "context show": "contextcmds",
    "info": "system", "version": "system", "system df": "system", "events": "system", "system prune": "system",
}

# `docker container ls` and friends: (group, sub) -> top-level name
GROUPS = {
    "container": {"ls": "ps", "list": "ps", "ps": "ps", "inspect": "container inspect", "start": "start", "stop": "stop",
                  "restart": "restart", "kill": "kill", "rm": "rm", "pause": "pause",
                  "unpause": "unpause", "wait": "wait", "rename": "rename", "run": "run", "create": "create",
                  "logs": "logs", "exec": "exec", "attach": "attach", "top": "top", "port": "port",
                  "diff": "diff", "commit": "commit", "export": "export", "update": "update", "cp": "cp",
                  "stats": "stats", "prune": "container prune"},
    "image": {"build": "build", "ls": "images", "list": "images", "tag": "tag", "rm": "rmi", "remove": "rmi",
              "rmi": "rmi", "inspect": "image inspect", "pull": "pull", "push": "push", "history": "history", "save": "save",
              "load": "load", "import": "import", "prune": "image prune"},
    "volume": {"create": "volume create", "ls": "volume ls", "list": "volume ls", "inspect": "volume inspect",
               "rm": "volume rm", "remove": "volume rm", "prune": "volume prune"},
    "context": {"ls": "context ls", "list": "context ls", "use": "context use", "create": "context create",
                "rm": "context rm", "remove": "context rm", "inspect": "context inspect", "show": "context show"},
    "completion": {"bash": "completion bash", "fish": "completion fish", "powershell": "completion powershell",
                   "zsh": "completion zsh"},
    "system": {"df": "system df", "events": "events", "info": "info", "prune": "system prune"},
    "network": {"ls": "network ls", "list": "network ls", "inspect": "network inspect", "create": "network create",
                "rm": "network rm", "remove": "network rm", "connect": "network connect",
                "disconnect": "network disconnect", "prune": "network prune"},
}

# the aliases `docker GROUP SUB --help` lists after SUB, as Docker 20.10 does
HELP_ALIASES = {("container", "ls"): ("ps", "list"), ("image", "ls"): ("list",), ("image", "rm"): ("rmi", "remove"),
                ("volume", "ls"): ("list",), ("volume", "rm"): ("remove",), ("network", "ls"): ("list",),
                ("network", "rm"): ("remove",), ("context", "ls"): ("list",), ("context", "rm"): ("remove",)}

GROUP_TITLES = {"container": "Manage containers", "image": "Manage images", "volume": "Manage volumes",
                "network": "Manage networks", "system": "Manage Docker",
                "context": "Manage contexts", "completion": "Generate the autocompletion script for the specified shell"}
# a group's description in its own usage, where it says more than its title
GROUP_LONG = {"completion": "Generate the autocompletion script for docker for the specified shell.\n"
                            "See each sub-command's help for details on how to use the generated script."}
ALIAS_SUBS = {"list", "remove", "ps", "rmi"}   # other names of a subcommand, not listed in help


def group_usage(group: str) -> str:
    """`docker volume` with no (or an unknown) subcommand, as cobra prints it."""
    from importlib import import_module
    rows = []
    for sub, name in sorted(GROUPS[group].items()):
        if sub in ALIAS_SUBS:
            continue
        spec, _run = import_module(f"busybox_engine.cli.commands.{COMMANDS[name]}").SPECS[name]
        rows.append(f"  {sub:<11} {spec.short.splitlines()[0]}")
    return (f"\nUsage:  docker {group} COMMAND\n\n{GROUP_LONG.get(group, GROUP_TITLES[group])}\n\nCommands:\n" + "\n".join(rows)
            + f"\n\nRun 'docker {group} COMMAND --help' for more information on a command.\n")


def global_options() -> str:
    """The Options: block of `docker --help`, its defaults from the
    environment as the docker CLI computes them."""
    import os
    from busybox_engine.cli.flags import Flag, FlagSet
    config = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    certs = os.environ.get("DOCKER_CERT_PATH") or config
    return FlagSet([
        Flag("config", "string", default=config, help="Location of client config files"),
        Flag("context", "string", short="c",
             help='Name of the context to use to connect to the daemon (overrides DOCKER_HOST env var and '
                  'default context set with "docker context use")'),
        Flag("debug", short="D", help="Enable debug mode"),
        Flag("host", "list", short="H", help="Daemon socket(s) to connect to"),
        Flag("log-level", "string", short="l", default="info",
             help='Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")'),
        Flag("tls", help="Use TLS; implied by --tlsverify"),
        Flag("tlscacert", "string", default=os.path.join(certs, "ca.pem"),
             help="Trust certs signed only by this CA"),
        Flag("tlscert", "string", default=os.path.join(certs, "cert.pem"), help="Path to TLS certificate file"),
        Flag("tlskey", "string", default=os.path.join(certs, "key.pem"), help="Path to TLS key file"),
        Flag("tlsverify", help="Use TLS and verify the remote"),
        Flag("version", short="v", help="Print version information and quit"),
    ]).usages()


def top_usage() -> str:
    """`docker --help`: the global options, then every group and command."""
    from importlib import import_module
    rows = []
    for name in sorted(n for n in COMMANDS if " " not in n):
        spec, _run = import_module(f"busybox_engine.cli.commands.{COMMANDS[name]}").SPECS[name]
        rows.append(f"  {name:<11} {spec.short.splitlines()[0]}")
    groups = "\n".join(f"  {g:<11} {GROUP_TITLES[g]}" for g in sorted(GROUPS))
    return ("\nUsage:  docker [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\nOptions:\n"
            + global_options() + f"\n\nManagement Commands:\n{groups}\n\nCommands:\n" + "\n".join(rows)
            + "\n\nRun 'docker COMMAND --help' for more information on a command.\n\n"
            "To get more help with docker, check out our guides at https://docs.docker.com/go/guides/\n")
