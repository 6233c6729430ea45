"""docker completion bash|zsh|fish: scripts that complete our commands,
groups, flags and container/image names."""
import sys

from busybox_engine.cli.flags import Command

COMPLETION = Command("docker completion", "docker completion [bash|zsh|fish]",
                     "Generate the autocompletion script for the specified shell", exact_args=1)


def _tables():
    from importlib import import_module
    from busybox_engine.cli.commands import COMMANDS, GROUPS
    top = sorted(n for n in COMMANDS if " " not in n) + sorted(GROUPS)
    flags = {}
    for name, module in COMMANDS.items():
        spec, _run = import_module(f"busybox_engine.cli.commands.{module}").SPECS[name]
        flags[name] = sorted(f"--{f.name}" for f in spec.flags.flags if not f.hidden)
    subs = {g: sorted(s for s in GROUPS[g]) for g in GROUPS}
    return top, subs, flags


def completion(ctx, v, args) -> int:
    shell = args[0]
    top, subs, flags = _tables()
    if shell == "bash":
        cases = "\n".join(f'        "{name}") opts="{" ".join(fl)}" ;;' for name, fl in sorted(flags.items()))
        groups = "\n".join(f'        {g}) words="{" ".join(s)}" ;;' for g, s in sorted(subs.items()))
        sys.stdout.write(f'''# bash completion for docker (busybox-engine)
_bbe_docker() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" cmd="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in -*) ;; *) cmd="${{cmd:+$cmd }}${{COMP_WORDS[i]}}"; [ "${{cmd#* }}" != "$cmd" ] && break ;; esac
    done
    if [ -z "$cmd" ]; then COMPREPLY=($(compgen -W "{' '.join(top)}" -- "$cur")); return; fi
    local words="" opts=""
    case "$cmd" in
{groups}
    esac
    if [ -n "$words" ] && [ "${{cmd#* }}" = "$cmd" ]; then COMPREPLY=($(compgen -W "$words" -- "$cur")); return; fi
    case "$cmd" in
{cases}
    esac
    if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur")); return; fi
    COMPREPLY=($(compgen -W "$(docker ps -a --format '{{{{.Names}}}}' 2>/dev/null) $(docker images --format '{{{{.Repository}}}}:{{{{.Tag}}}}' 2>/dev/null)" -- "$cur"))
}}
complete -F _bbe_docker docker
''')
        return 0
    if shell == "zsh":
        sys.stdout.write("#compdef docker\n# zsh completion for docker (busybox-engine)\n"
                         "autoload -U +X bashcompinit && bashcompinit\n")
        completion(ctx, v, ["bash"])
        return 0
    if shell == "fish":
        lines = ["# fish completion for docker (busybox-engine)",
                 "complete -c docker -f"]
        for name in top:
            lines.append(f"complete -c docker -n '__fish_use_subcommand' -a {name}")
        for g, s in sorted(subs.items()):
            for sub in s:
                lines.append(f"complete -c docker -n '__fish_seen_subcommand_from {g}' -a {sub}")
        for name, fl in sorted(flags.items()):
            last = name.split(" ")[-1]
            for f in fl:
                lines.append(f"complete -c docker -n '__fish_seen_subcommand_from {last}' -l {f[2:]}")
        sys.stdout.write("\n".join(lines) + "\n")
        return 0
    sys.stderr.write(f"unsupported shell: {shell} (bash, zsh or fish)\n")
    return 1


SPECS = {"completion": (COMPLETION, completion)}
