"""Command-line flags as runc's and ctr's CLI library and pflag read them.

Flags come before the first argument (`--` ends them): `-name` or
`--name`, its value after `=` or as the next word; a bool flag takes no
word (`-d`, or `-d=false`). With combine_short, a single-dash word that is
no flag's name is a group of one-letter flags, as in `-it` or `-dit`; the
last of them may take a value (`-n5`, `-e K=V`).
"""


class UsageError(Exception):
    pass


def parse_flags(argv: list, flags: dict, aliases: dict | None = None,
                combine_short: bool = False) -> tuple:
    """({name: value}, rest). flags maps a name to bool, str, int or list
    (a repeatable str); aliases maps other names (one-letter ones too) to it."""
    aliases = aliases or {}
    opts, i = {}, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        dashes = 2 if arg.startswith("--") else 1
        name, eq, value = arg[dashes:].partition("=")
        name = aliases.get(name, name)
        if (name not in flags and combine_short and dashes == 1 and len(arg) > 2):
            i = _short_group(argv, i, flags, aliases, opts)
            continue
        kind = flags.get(name)
        if kind is None:
            raise UsageError(f"flag provided but not defined: -{name}")
        if kind is bool:
            opts[name] = value.lower() not in ("false", "0") if eq else True
        else:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: -{name}")
                value = argv[i]
            _set(opts, name, kind, value)
        i += 1
    return opts, argv[i:]


def _short_group(argv: list, i: int, flags: dict, aliases: dict, opts: dict) -> int:
    """-abc as -a -b -c; the index of the next word."""
    group = argv[i][1:]
    for j, letter in enumerate(group):
        name = aliases.get(letter, letter)
        kind = flags.get(name)
        if kind is None:
            raise UsageError(f"unknown shorthand flag: {letter!r} in -{group}")
        if kind is bool:
            opts[name] = True
            continue
        value = group[j + 1:]
        if value.startswith("="):
            value = value[1:]
        if not value:
            i += 1
            if i >= len(argv):
                raise UsageError(f"flag needs an argument: {letter!r} in -{group}")
            value = argv[i]
        _set(opts, name, kind, value)
        break
    return i + 1


def _set(opts: dict, name: str, kind, value: str) -> None:
    if kind is int:
        try:
            value = int(value)
        except ValueError:
            raise UsageError(f"invalid value {value!r} for flag -{name}") from None
    if kind is list:
        opts.setdefault(name, []).append(value)
    else:
        opts[name] = value
