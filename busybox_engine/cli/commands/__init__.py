"""The docker client's commands: name -> (module, function), found
lazily so a command imports only its own module."""

# top-level name -> module under busybox_engine.cli.commands
COMMANDS = {
    "ps": "containers", "inspect": "inspect", "start": "containers", "stop": "containers",
    "restart": "containers", "kill": "containers", "rm": "containers", "pause": "containers",
    "unpause": "containers", "wait": "containers", "rename": "containers",
    "images": "images", "tag": "images", "rmi": "images", "run": "run", "create": "run",
    "logs": "logs", "exec": "logs", "attach": "logs",
    "pull": "registry", "push": "registry", "login": "registry", "logout": "registry",
}

# `docker container ls` and friends: (group, sub) -> top-level name
GROUPS = {
    "container": {"ls": "ps", "list": "ps", "ps": "ps", "inspect": "inspect", "start": "start", "stop": "stop",
                  "restart": "restart", "kill": "kill", "rm": "rm", "remove": "rm", "pause": "pause",
                  "unpause": "unpause", "wait": "wait", "rename": "rename", "run": "run", "create": "create",
                  "logs": "logs", "exec": "exec", "attach": "attach"},
    "image": {"ls": "images", "list": "images", "tag": "tag", "rm": "rmi", "remove": "rmi",
              "inspect": "inspect", "pull": "pull", "push": "push"},
}
