"""Our iptables chains and a bridge's rules, in a network namespace the
test makes: added once however often asked, and gone without a trace."""
import subprocess

import pytest

from busybox_engine.network import firewall
from tests.network.test_netlink import two_netns  # noqa: F401 - shared fixture


@pytest.fixture
def ns_iptables(two_netns, monkeypatch):  # noqa: F811
    monkeypatch.setattr(firewall, "IPTABLES", ["nsenter", f"--net={two_netns[0]}", "iptables"])
    return two_netns[0]


def dump(ns: str) -> str:
    return "".join(subprocess.run(["nsenter", f"--net={ns}", "iptables", "-w", "-t", t, "-S"],
                                  capture_output=True, text=True).stdout for t in ("filter", "nat"))


def test_bridge_rules_once_and_gone(ns_iptables):
    before = dump(ns_iptables)
    rules = firewall.bridge_rules("bbe0", "172.18.0.0/16")
    firewall.add_rules(rules)
    firewall.add_rules(rules)       # again: nothing doubled
    assert firewall.listed("nat", "BBE-POSTROUTING") == [
        "-A BBE-POSTROUTING -s 172.18.0.0/16 ! -o bbe0 -j MASQUERADE"]
    assert len(firewall.listed("filter", "BBE-FORWARD")) == 3
    assert firewall.listed("filter", "BBE-ISOLATION-1") == ["-A BBE-ISOLATION-1 -i bbe0 ! -o bbe0 -j BBE-ISOLATION-2"]
    assert firewall.listed("filter", "BBE-ISOLATION-2") == ["-A BBE-ISOLATION-2 -o bbe0 -j DROP"]
    forward = [line for line in dump(ns_iptables).splitlines() if line.startswith("-A FORWARD")]
    assert forward[:2] == ["-A FORWARD -j BBE-ISOLATION-1", "-A FORWARD -j BBE-FORWARD"]
    text = dump(ns_iptables)
    assert text.count("-A FORWARD -j BBE-FORWARD") == 1 and text.count("-A POSTROUTING -j BBE-POSTROUTING") == 1
    internal = firewall.bridge_rules("bbe1", "10.5.0.0/24", icc=False, internal=True)
    firewall.add_rules(internal)
    assert "-A BBE-FORWARD -i bbe1 -o bbe1 -j DROP" in firewall.listed("filter", "BBE-FORWARD")
    firewall.remove_rules(rules + internal)
    assert firewall.listed("filter", "BBE-FORWARD") == [] == firewall.listed("nat", "BBE-POSTROUTING")
    assert firewall.listed("filter", "BBE-ISOLATION-1") == [] == firewall.listed("filter", "BBE-ISOLATION-2")
    firewall.remove_chains()
    assert dump(ns_iptables) == before
    with pytest.raises(firewall.FirewallError):
        firewall.add_rules([("filter", "BBE-FORWARD", ["-i", "x", "-j", "NOSUCHTARGET"])])
    firewall.remove_chains()


def test_a_containers_rules_in_one_batch(ns_iptables):
    before = dump(ns_iptables)
    m = ["-p", "tcp", "-m", "tcp"]
    rules = [("nat", "BBE-DNAT", ["!", "-i", "bbe0", *m, "--dport", "8080", "-j", "DNAT",
                                  "--to-destination", "172.18.0.2:80"]),
             ("filter", "BBE-FORWARD", ["-d", "172.18.0.2/32", "!", "-i", "bbe0", "-o", "bbe0", *m,
                                        "--dport", "80", "-j", "ACCEPT"])]
    firewall.add_new_rules(rules)
    assert firewall.listed("nat", "BBE-DNAT") == [
        "-A BBE-DNAT ! -i bbe0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:80"]
    assert len(firewall.listed("filter", "BBE-FORWARD")) == 1
    # one of them gone already (by hand): the rest still goes
    firewall.remove_rules(rules[:1])
    firewall.remove_rules_batch(rules)
    assert firewall.listed("nat", "BBE-DNAT") == [] == firewall.listed("filter", "BBE-FORWARD")
    # a bad rule in a batch: nothing of the batch stays half-made silently, the error is told
    with pytest.raises(firewall.FirewallError):
        firewall.add_new_rules(rules + [("filter", "BBE-FORWARD", ["-i", "x", "-j", "NOSUCHTARGET"])])
    firewall.remove_rules(rules)
    firewall.remove_chains()
    assert dump(ns_iptables) == before
