"""Packet filtering for our bridges, in chains of our own (BBE-*) that the
built-in chains jump to: another engine's rules (Docker's DOCKER-*
chains) are never read or changed. iptables here is its nf_tables
backend; each rule is added once (checked first) and removed by the
same words.

- nat BBE-POSTROUTING: what leaves a bridge's subnet for elsewhere is
  masqueraded;
- filter BBE-FORWARD: a bridge's traffic out, and answers back in, are
  accepted; between its containers as --icc says; an --internal bridge
  reaches nothing outside its subnet."""
import subprocess

IPTABLES = ["iptables"]   # a test puts `nsenter --net=NS` in front
# (table, built-in chain, our chain, what of it jumps): published ports are
# DNATed for local addresses, but not for 127.0.0.0/8 from the host itself
# (the userland proxy answers there, as docker-proxy does)
# (each is inserted first: the isolation chain ends up before BBE-FORWARD)
OUTPUT_PROXIED = ("!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL")
# without the userland proxy (--userland-proxy=false) 127.0.0.0/8 is DNATed
# too, and hairpin NAT brings the answers back
OUTPUT_HAIRPIN = ("-m", "addrtype", "--dst-type", "LOCAL")
JUMPS = (("nat", "POSTROUTING", "BBE-POSTROUTING", ()),
         ("filter", "FORWARD", "BBE-FORWARD", ()),
         ("filter", "FORWARD", "BBE-ISOLATION-1", ()),
         ("nat", "PREROUTING", "BBE-DNAT", ("-m", "addrtype", "--dst-type", "LOCAL")),
         ("nat", "OUTPUT", "BBE-DNAT", OUTPUT_PROXIED))
mode = {"hairpin": False}   # this daemon's choice, set once at its start


def set_hairpin(on: bool) -> None:
    mode["hairpin"] = bool(on)


def _jumps(hairpin: bool) -> tuple:
    return tuple((t, b, c, OUTPUT_HAIRPIN if hairpin and m == OUTPUT_PROXIED else m) for t, b, c, m in JUMPS)


class FirewallError(Exception):
    pass


def _run(table: str, *args, check: bool = True) -> bool:
    p = subprocess.run([*IPTABLES, "-w", "-t", table, *args], capture_output=True, text=True)
    if p.returncode != 0 and check:
        raise FirewallError(f"iptables -t {table} {' '.join(args)}: {p.stderr.strip() or p.returncode}")
    return p.returncode == 0


# chains only our chains jump to
INNER = (("filter", "BBE-ISOLATION-2"),)


def ensure_chains() -> None:
    """Our chains, and the one jump to each from its built-in chain."""
    for table, chain in INNER:
        if not _run(table, "-n", "-L", chain, check=False):
            _run(table, "-N", chain)
    hairpin = mode["hairpin"]
    for (table, builtin, chain, match), (_t, _b, _c, other) in zip(_jumps(hairpin), _jumps(not hairpin)):
        if not _run(table, "-n", "-L", chain, check=False):
            _run(table, "-N", chain)
        if other != match:   # the other mode's jump, left by an earlier run
            while _run(table, "-D", builtin, *other, "-j", chain, check=False):
                pass
        if not _run(table, "-C", builtin, *match, "-j", chain, check=False):
            _run(table, "-I", builtin, "1", *match, "-j", chain)


def remove_chains() -> None:
    """Undo ensure_chains (the chains flushed first)."""
    for table, builtin, chain, match in set(_jumps(False) + _jumps(True)):
        while _run(table, "-D", builtin, *match, "-j", chain, check=False):
            pass
    for table, chain in [(t, c) for t, _b, c, _m in JUMPS] + list(INNER):
        if _run(table, "-n", "-L", chain, check=False):
            _run(table, "-F", chain)
            _run(table, "-X", chain)


def bridge_rules(bridge: str, subnet: str, icc: bool = True, internal: bool = False,
                 hairpin: bool = False) -> list:
    """(table, chain, rule words) of one bridge network: first what keeps
    it apart from our other bridges (as Docker's two isolation stages: out
    of one bridge into another is dropped), then its own traffic. hairpin:
    what the host itself sends into the bridge (127.0.0.1 DNATed to a
    container) is masqueraded, so the answer comes back."""
    isolation = [("filter", "BBE-ISOLATION-1", ["-i", bridge, "!", "-o", bridge, "-j", "BBE-ISOLATION-2"]),
                 ("filter", "BBE-ISOLATION-2", ["-o", bridge, "-j", "DROP"])]
    local = [("nat", "BBE-POSTROUTING", ["-o", bridge, "-m", "addrtype", "--src-type", "LOCAL",
                                         "-j", "MASQUERADE"])] if hairpin and not internal else []
    return isolation + local + _own_rules(bridge, subnet, icc, internal)


def _own_rules(bridge: str, subnet: str, icc: bool, internal: bool) -> list:
    if internal:
        return [("filter", "BBE-FORWARD", ["-i", bridge, "!", "-d", subnet, "-j", "DROP"]),
                ("filter", "BBE-FORWARD", ["-o", bridge, "!", "-s", subnet, "-j", "DROP"]),
                ("filter", "BBE-FORWARD", ["-i", bridge, "-o", bridge, "-j", "ACCEPT" if icc else "DROP"])]
    return [("nat", "BBE-POSTROUTING", ["-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"]),
            ("filter", "BBE-FORWARD", ["-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
                                       "-j", "ACCEPT"]),
            ("filter", "BBE-FORWARD", ["-i", bridge, "!", "-o", bridge, "-j", "ACCEPT"]),
            ("filter", "BBE-FORWARD", ["-i", bridge, "-o", bridge, "-j", "ACCEPT" if icc else "DROP"])]


def add_rules(rules: list) -> None:
    ensure_chains()
    for table, chain, words in rules:
        if not _run(table, "-C", chain, *words, check=False):
            _run(table, "-A", chain, *words)


def remove_rules(rules: list) -> None:
    for table, chain, words in rules:
        while _run(table, "-D", chain, *words, check=False):
            pass


def _restore(verb: str, rules: list) -> bool:
    """The rules added (-A) or deleted (-D) in one iptables-restore
    --noflush batch: one process and one commit of the kernel's tables,
    all or nothing. benchmarks/firewall.py: a container's three rules are
    added in 3 ms this way against 48 with a process a rule (nft -f: 7)."""
    tables = {}
    for table, chain, words in rules:
        tables.setdefault(table, []).append(" ".join([verb, chain, *(_quote(w) for w in words)]))
    text = "".join(f"*{t}\n" + "".join(line + "\n" for line in lines) + "COMMIT\n" for t, lines in tables.items())
    restore = [*IPTABLES[:-1], IPTABLES[-1] + "-restore"]
    p = subprocess.run([*restore, "-w", "--noflush"], input=text, capture_output=True, text=True)
    return p.returncode == 0


def _quote(word: str) -> str:
    return word if word and not any(c in word for c in " \t\"'") else '"' + word.replace('"', '\\"') + '"'


def add_new_rules(rules: list) -> None:
    """Rules known not to be there yet (a container's, as it starts): one
    batch, without checking each first."""
    ensure_chains()
    if rules and not _restore("-A", rules):
        add_rules(rules)   # the batch failed whole: rule by rule, with the error of the one at fault


def remove_rules_batch(rules: list) -> None:
    """remove_rules in one batch when every rule is there (one kernel
    commit); rule by rule when some are not."""
    if rules and not _restore("-D", rules):
        remove_rules(rules)


def listed(table: str, chain: str) -> list:
    """The rules of one of our chains, as iptables -S prints them."""
    p = subprocess.run([*IPTABLES, "-w", "-t", table, "-S", chain], capture_output=True, text=True)
    return [line for line in p.stdout.splitlines() if line.startswith("-A ")]
