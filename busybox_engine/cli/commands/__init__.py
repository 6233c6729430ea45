"""The docker client's commands: name -> (module, function), found
lazily so a command imports only its own module."""

# top-level name -> module under busybox_engine.cli.commands
COMMANDS = {
    "ps": "containers", "inspect": "inspect", "start": "containers", "stop": "containers",
    "restart": "containers", "kill": "containers", "rm": "containers", "pause": "containers",
    "unpause": "containers", "wait": "containers", "rename": "containers",
    "images": "images", "tag": "images", "rmi": "images", "run": "run", "create": "run",
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
    "completion": "completion",
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
    "image": {"ls": "images", "list": "images", "tag": "tag", "rm": "rmi", "remove": "rmi",
              "rmi": "rmi", "inspect": "image inspect", "pull": "pull", "push": "push", "history": "history", "save": "save",
              "load": "load", "import": "import", "prune": "image prune"},
    "volume": {"create": "volume create", "ls": "volume ls", "list": "volume ls", "inspect": "volume inspect",
               "rm": "volume rm", "remove": "volume rm", "prune": "volume prune"},
    "context": {"ls": "context ls", "list": "context ls", "use": "context use", "create": "context create",
                "rm": "context rm", "remove": "context rm", "inspect": "context inspect", "show": "context show"},
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
                "context": "Manage contexts"}
ALIAS_SUBS = {"list", "remove", "ps"}   # other names of a subcommand, not listed in help


def group_usage(group: str) -> str:
    """`docker volume` with no (or an unknown) subcommand, as cobra prints it."""
    from importlib import import_module
    rows = []
    for sub, name in sorted(GROUPS[group].items()):
        if sub in ALIAS_SUBS:
            continue
        spec, _run = import_module(f"busybox_engine.cli.commands.{COMMANDS[name]}").SPECS[name]
        rows.append(f"  {sub:<11} {spec.short.splitlines()[0]}")
    return (f"\nUsage:  docker {group} COMMAND\n\n{GROUP_TITLES[group]}\n\nCommands:\n" + "\n".join(rows)
            + f"\n\nRun 'docker {group} COMMAND --help' for more information on a command.\n")


def top_usage() -> str:
    """`docker --help`: the global options, then every group and command."""
    from importlib import import_module
    rows = []
    for name in sorted(n for n in COMMANDS if " " not in n):
        spec, _run = import_module(f"busybox_engine.cli.commands.{COMMANDS[name]}").SPECS[name]
        rows.append(f"  {name:<11} {spec.short.splitlines()[0]}")
    groups = "\n".join(f"  {g:<11} {GROUP_TITLES[g]}" for g in sorted(GROUPS))
    return ("\nUsage:  docker [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\nOptions:\n"
            "      --config string      Location of client config files (default \"~/.docker\")\n"
            "  -D, --debug              Enable debug mode\n"
            "  -H, --host list          Daemon socket(s) to connect to\n"
            "  -l, --log-level string   Set the logging level (\"debug\"|\"info\"|\"warn\"|\"error\"|\"fatal\") "
            "(default \"info\")\n"
            "  -v, --version            Print version information and quit\n\n"
            f"Management Commands:\n{groups}\n\nCommands:\n" + "\n".join(rows)
            + "\n\nRun 'docker COMMAND --help' for more information on a command.\n")
