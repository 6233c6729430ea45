"""docker completion bash|fish|powershell|zsh: scripts that complete our
commands, groups, flags and container/image names."""
import sys

from busybox_engine.cli.flags import Command, Flag

LONG = {
    "bash": """Generate the autocompletion script for the bash shell.

This script depends on the 'bash-completion' package.
If it is not installed already, you can install it via your OS's package manager.

To load completions in your current shell session:

\tsource <(docker completion bash)

To load completions for every new session, execute once:

#### Linux:

\tdocker completion bash > /etc/bash_completion.d/docker

#### macOS:

\tdocker completion bash > $(brew --prefix)/etc/bash_completion.d/docker

You will need to start a new shell for this setup to take effect.""",
    "fish": """Generate the autocompletion script for the fish shell.

To load completions in your current shell session:

\tdocker completion fish | source

To load completions for every new session, execute once:

\tdocker completion fish > ~/.config/fish/completions/docker.fish

You will need to start a new shell for this setup to take effect.""",
    "powershell": """Generate the autocompletion script for powershell.

To load completions in your current shell session:

\tdocker completion powershell | Out-String | Invoke-Expression

To load completions for every new session, add the output of the above command
to your powershell profile.""",
    "zsh": """Generate the autocompletion script for the zsh shell.

If shell completion is not already enabled in your environment you will need
to enable it.  You can execute the following once:

\techo "autoload -U compinit; compinit" >> ~/.zshrc

To load completions in your current shell session:

\tsource <(docker completion zsh); compdef _docker docker

To load completions for every new session, execute once:

#### Linux:

\tdocker completion zsh > "${fpath[1]}/_docker"

#### macOS:

\tdocker completion zsh > $(brew --prefix)/share/zsh/site-functions/_docker

You will need to start a new shell for this setup to take effect.""",
}


def _spec(shell: str) -> Command:
    # cobra's own completion commands show "[flags]" in their usage, bash aside
    usage = f"docker completion {shell}" + ("" if shell == "bash" else " [flags]")
    return Command(f"docker completion {shell}", usage, f"Generate the autocompletion script for {shell}",
                   long=LONG[shell], max_args=0,
                   flags=[Flag("no-descriptions", help="disable completion descriptions")])


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


def completion(ctx, v, args, shell: str = "bash") -> int:
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
        completion(ctx, v, [], "bash")
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
    words = " ".join(top + sorted({s for g in subs.values() for s in g}))
    sys.stdout.write(f"""# powershell completion for docker (busybox-engine)
Register-ArgumentCompleter -CommandName 'docker' -ScriptBlock {{
    param($wordToComplete, $commandAst, $cursorPosition)
    '{words}'.Split(' ') | Where-Object {{ $_ -like "$wordToComplete*" }} |
        ForEach-Object {{ [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_) }}
}}
""")
    return 0


def _runner(shell: str):
    return lambda ctx, v, args: completion(ctx, v, args, shell)


SPECS = {f"completion {shell}": (_spec(shell), _runner(shell)) for shell in LONG}
