"""`runc COMMAND --help`: each command's usage in the layout runc's CLI
library prints (NAME, USAGE, DESCRIPTION, OPTIONS), from our own table."""

# command -> (one line, usage after the command, [(option as shown, what it does)])
_ID = "<container-id>"
COMMANDS = {
    "checkpoint": ("checkpoint a running container (not supported by this runtime)", f"[command options] {_ID}",
                   [("--image-path value", "path for saving criu image files"),
                    ("--work-path value", "path for saving work files and logs"),
                    ("--leave-running", "leave the process running after checkpointing")]),
    "create": ("create a container", f"[command options] {_ID}",
               [("--bundle value, -b value", "path to the root of the bundle directory, defaults to the current "
                                             "directory"),
                ("--console-socket value", "path to an AF_UNIX socket which will receive a file descriptor "
                                           "referencing the master end of the console's pseudoterminal"),
                ("--pid-file value", "specify the file to write the process id to"),
                ("--no-pivot", "do not use pivot root to jail process inside rootfs"),
                ("--no-new-keyring", "do not create a new session keyring for the container"),
                ("--preserve-fds value", "pass N additional file descriptors to the container (default: 0)")]),
    "delete": ("delete any resources held by the container often used with detached container",
               f"[command options] {_ID}",
               [("--force, -f", "forcibly delete the container if it is still running (uses SIGKILL)")]),
    "events": ("display container events such as OOM notifications, cpu, memory, and IO usage statistics",
               f"[command options] {_ID}",
               [("--interval value", "set the stats collection interval (default: 5s)"),
                ("--stats", "display the container's stats then exit")]),
    "exec": ("execute new process inside the container", f"[command options] {_ID} <command> [command options]",
             [("--console-socket value", "path to an AF_UNIX socket which will receive a file descriptor "
                                         "referencing the master end of the console's pseudoterminal"),
              ("--cwd value", "current working directory in the container"),
              ("--env value, -e value", "set environment variables"),
              ("--tty, -t", "allocate a pseudo-TTY"),
              ("--user value, -u value", "UID (format: <uid>[:<gid>])"),
              ("--additional-gids value, -g value", "additional gids"),
              ("--process value, -p value", "path to the process.json"),
              ("--detach, -d", "detach from the container's process"),
              ("--pid-file value", "specify the file to write the process id to"),
              ("--process-label value", "set the asm process label for the process commonly used with selinux"),
              ("--apparmor value", "set the apparmor profile for the process"),
              ("--no-new-privs", "set the no new privileges value for the process"),
              ("--cap value, -c value", "add a capability to the bounding set for the process"),
              ("--preserve-fds value", "pass N additional file descriptors to the container (default: 0)"),
              ("--cgroup value", "run the process in an (existing) sub-cgroup(s)"),
              ("--ignore-paused", "allow exec in a paused container")]),
    "features": ("show the enabled features", "", []),
    "kill": ("kill sends the specified signal (default: SIGTERM) to the container's init process",
             f"[command options] {_ID} [signal]",
             [("--all, -a", "send the specified signal to all processes inside the container")]),
    "list": ("lists containers started by runc with the given root", "[command options]",
             [("--format value, -f value", "select one of: table or json (default: \"table\")"),
              ("--quiet, -q", "display only container IDs")]),
    "pause": ("pause suspends all processes inside the container", _ID, []),
    "ps": ("ps displays the processes running inside a container", f"[command options] {_ID} [ps options]",
           [("--format value, -f value", "select one of: table or json (default: \"table\")")]),
    "restore": ("restore a container from a previous checkpoint (not supported by this runtime)",
                f"[command options] {_ID}",
                [("--image-path value", "path to criu image files for restoring"),
                 ("--bundle value, -b value", "path to the root of the bundle directory")]),
    "resume": ("resumes all processes that have been previously paused", _ID, []),
    "run": ("create and run a container", f"[command options] {_ID}",
            [("--bundle value, -b value", "path to the root of the bundle directory, defaults to the current "
                                          "directory"),
             ("--console-socket value", "path to an AF_UNIX socket which will receive a file descriptor "
                                        "referencing the master end of the console's pseudoterminal"),
             ("--detach, -d", "detach from the container's process"),
             ("--keep", "do not delete the container after it exits"),
             ("--pid-file value", "specify the file to write the process id to"),
             ("--no-pivot", "do not use pivot root to jail process inside rootfs"),
             ("--no-new-keyring", "do not create a new session keyring for the container"),
             ("--preserve-fds value", "pass N additional file descriptors to the container (default: 0)")]),
    "spec": ("create a new specification file", "[command options]",
             [("--bundle value, -b value", "path to the root of the bundle directory"),
              ("--rootless", "generate a configuration for a rootless container")]),
    "start": ("executes the user defined process in a created container", _ID, []),
    "state": ("output the state of a container", _ID, []),
    "update": ("update container resource constraints", f"[command options] {_ID}",
               [("--resources value, -r value", "path to the file containing the resources to update or '-' "
                                                "to read from the standard input"),
                ("--blkio-weight value", "specifies per cgroup weight, range is from 10 to 1000 (default: 0)"),
                ("--cpu-period value", "CPU CFS period to be used for hardcapping (in usecs)"),
                ("--cpu-quota value", "CPU CFS hardcap limit (in usecs)"),
                ("--cpu-share value", "CPU shares (relative weight vs. other containers)"),
                ("--cpu-rt-period value", "CPU realtime period to be used for hardcapping (in usecs)"),
                ("--cpu-rt-runtime value", "CPU realtime hardcap limit (in usecs)"),
                ("--cpuset-cpus value", "CPU(s) to use"),
                ("--cpuset-mems value", "memory node(s) to use"),
                ("--kernel-memory value", "kernel memory limit (in bytes)"),
                ("--kernel-memory-tcp value", "kernel memory limit for tcp buffer (in bytes)"),
                ("--memory value", "memory limit (in bytes)"),
                ("--memory-reservation value", "memory reservation or soft_limit (in bytes)"),
                ("--memory-swap value", "total memory usage (memory + swap); set '-1' to enable unlimited swap"),
                ("--pids-limit value", "maximum number of pids allowed in the container (default: 0)"),
                ("--l3-cache-schema value", "the string of Intel RDT/CAT L3 cache schema"),
                ("--mem-bw-schema value", "the string of Intel RDT/MBA memory bandwidth schema")]),
}


def text(command: str) -> str:
    short, usage, options = COMMANDS[command]
    out = f"NAME:\n   runc {command} - {short}\n\nUSAGE:\n   runc {command}"
    out += f" {usage}\n" if usage else "\n"
    if options:
        width = max(len(o) for o, _ in options + [("--help, -h", "")]) + 2
        out += "\nOPTIONS:\n" + "".join(f"   {o:<{width}}{d}\n" for o, d in options)
        out += f"   {'--help, -h':<{width}}show help\n"
    return out


def reorder(args: list, flags: dict, aliases: dict) -> list:
    """The words of a command with its flags moved before its arguments, as
    runc's CLI library (urfave/cli 1.22) reorders them: `update ID --memory
    1m` works. A word after a flag without `=` goes with it unless it is
    one of the flags (so `--pids-limit -1` and a value of `--` do); `--`
    elsewhere ends it."""
    names = set(flags) | set(aliases) | {"help", "h"}

    def is_flag(arg: str) -> bool:
        return arg not in ("-", "--") and arg.startswith("-") and arg.lstrip("-").split("=", 1)[0] in names

    flagged, rest = [], []
    value_next = False
    for i, arg in enumerate(args):
        if value_next and not is_flag(arg):
            value_next = False
            flagged.append(arg)
        elif arg == "--":
            rest += args[i:]
            break
        elif is_flag(arg):
            flagged.append(arg)
            value_next = "=" not in arg
        else:
            rest.append(arg)
    return flagged + rest
