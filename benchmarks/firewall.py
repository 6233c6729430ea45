#!/usr/bin/env python3
"""Packet filtering per container: what publishing one port costs in
rules (DNAT, hairpin MASQUERADE, FORWARD accept) added and then removed,
three ways, in a network namespace of its own (the host's tables are
never touched):

  - iptables (nf_tables backend), one process a rule, checked first:
    what busybox_engine.network.firewall does
  - iptables-restore --noflush: the container's rules in one batch
  - nft -f: the same rules in a table of our own, in one batch, removed
    by their handles

    python benchmarks/firewall.py [-n 50]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from busybox_engine.network import firewall  # noqa: E402


def rules_for(i: int) -> list:
    ip, port = f"10.99.{i // 250}.{i % 250 + 2}", 20000 + i
    m = ["-p", "tcp", "-m", "tcp"]
    return [("nat", "BBE-DNAT", ["!", "-i", "bbx0", *m, "--dport", str(port), "-j", "DNAT",
                                 "--to-destination", f"{ip}:80"]),
            ("nat", "BBE-POSTROUTING", ["-s", f"{ip}/32", "-d", f"{ip}/32", *m, "--dport", "80",
                                        "-j", "MASQUERADE"]),
            ("filter", "BBE-FORWARD", ["-d", f"{ip}/32", "!", "-i", "bbx0", "-o", "bbx0", *m,
                                       "--dport", "80", "-j", "ACCEPT"])]


def by_iptables(n: int) -> tuple:
    firewall.ensure_chains()
    add, rm = [], []
    for i in range(n):
        t = time.perf_counter()
        firewall.add_rules(rules_for(i))
        add.append(time.perf_counter() - t)
    for i in range(n):
        t = time.perf_counter()
        firewall.remove_rules(rules_for(i))
        rm.append(time.perf_counter() - t)
    firewall.remove_chains()
    return add, rm


def _restore(lines_by_table: dict) -> None:
    text = ""
    for table, lines in lines_by_table.items():
        text += f"*{table}\n" + "".join(line + "\n" for line in lines) + "COMMIT\n"
    subprocess.run(["iptables-restore", "-w", "--noflush"], input=text, text=True, check=True)


def by_restore(n: int) -> tuple:
    firewall.ensure_chains()
    add, rm = [], []
    for verb, out in (("-A", add), ("-D", rm)):
        for i in range(n):
            batch = {}
            for table, chain, words in rules_for(i):
                batch.setdefault(table, []).append(" ".join([verb, chain, *words]))
            t = time.perf_counter()
            _restore(batch)
            out.append(time.perf_counter() - t)
    firewall.remove_chains()
    return add, rm


def _nft(script: str, echo: bool = False) -> str:
    argv = ["nft", "-e", "-a", "-f", "-"] if echo else ["nft", "-f", "-"]
    return subprocess.run(argv, input=script, text=True, check=True, capture_output=True).stdout


def by_nft(n: int) -> tuple:
    _nft("table ip bbe {\n"
         " chain pre { type nat hook prerouting priority -100; }\n"
         " chain post { type nat hook postrouting priority 100; }\n"
         " chain forward { type filter hook forward priority 0; }\n}\n")
    add, rm, handles = [], [], []
    for i in range(n):
        ip, port = f"10.99.{i // 250}.{i % 250 + 2}", 20000 + i
        script = (f"add rule ip bbe pre iifname != \"bbx0\" tcp dport {port} dnat to {ip}:80\n"
                  f"add rule ip bbe post ip saddr {ip} ip daddr {ip} tcp dport 80 masquerade\n"
                  f"add rule ip bbe forward ip daddr {ip} iifname != \"bbx0\" oifname \"bbx0\" tcp dport 80 accept\n")
        t = time.perf_counter()
        out = _nft(script, echo=True)
        add.append(time.perf_counter() - t)
        handles.append([(line.split()[4], line.rsplit("# handle ", 1)[1]) for line in out.splitlines()
                        if "# handle " in line])
    for hs in handles:
        script = "".join(f"delete rule ip bbe {chain} handle {h}\n" for chain, h in hs)
        t = time.perf_counter()
        _nft(script)
        rm.append(time.perf_counter() - t)
    _nft("delete table ip bbe\n")
    return add, rm


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50, help="containers (one published port each)")
    ap.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not a.in_netns:   # everything in a network namespace of its own
        return subprocess.call(["unshare", "--net", sys.executable, os.path.abspath(__file__), "-n", str(a.n),
                                "--in-netns"])
    ways = [("iptables, a rule a process (ours)", by_iptables), ("iptables-restore batch", by_restore)]
    if shutil.which("nft"):
        ways.append(("nft -f batch", by_nft))
    else:
        print("nft is not installed (apt-get install nftables): not measured")
    results = {}
    for name, fn in ways:
        add, rm = fn(a.n)
        results[name] = (statistics.median(add) * 1000, statistics.median(rm) * 1000)
    base = results[ways[0][0]]
    print(f"{'per container (3 rules), median ms':<40} {'add':>8} {'remove':>8} {'add+rm vs ours':>15}")
    for name, (ad, rm) in results.items():
        print(f"{name:<40} {ad:8.2f} {rm:8.2f} {(ad + rm) / sum(base):14.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
