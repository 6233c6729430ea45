"""Lower layers never import upward: what each package may import of ours,
read from the sources (imports inside functions count too)."""
import ast
import os

import pytest

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "busybox_engine")

# package -> packages of ours it must not import
FORBIDDEN = {
    "util": {"*"},
    "oci": {"*"},
    "rpc": {"runtime", "image", "containerd", "shim", "api", "cli", "personalities", "dispatch", "daemon"},
    "core_pyx": {"*"},
    "runtime": {"image", "containerd", "shim", "api", "cli", "personalities", "dispatch", "rpc", "daemon"},
    "image": {"containerd", "shim", "api", "cli", "personalities", "dispatch", "runtime.cli"},
    "shim": {"containerd", "api", "cli", "personalities", "dispatch"},
    "containerd": {"api", "cli", "personalities", "dispatch"},
    "cli": {"containerd", "shim", "api", "personalities", "dispatch"},
}
ALLOWED_ALWAYS = {"util", "oci", "core_pyx", "_build_info", ""}


def imports_of(path: str) -> set:
    with open(path) as f:
        tree = ast.parse(f.read())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("busybox_engine"):
            out.add(node.module[len("busybox_engine."):] if node.module != "busybox_engine" else "")
        elif isinstance(node, ast.Import):
            out.update(a.name[len("busybox_engine."):] for a in node.names if a.name.startswith("busybox_engine."))
    return out


def sources(package: str) -> list:
    found = []
    for dirpath, _, files in os.walk(os.path.join(PKG, package)):
        found += [os.path.join(dirpath, f) for f in files if f.endswith(".py")]
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package):
    bad = []
    for path in sources(package):
        for module in imports_of(path):
            top = module.split(".")[0]
            if top == package or top in ALLOWED_ALWAYS:
                continue
            rules = FORBIDDEN[package]
            if "*" in rules or top in rules or any(module == r or module.startswith(r + ".") for r in rules):
                bad.append((os.path.relpath(path, PKG), module))
    assert bad == []
