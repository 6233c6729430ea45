"""Registry endpoints as daemon.json configures them."""
import json

import pytest

from busybox_engine.image.hosts import RegistryHosts
from busybox_engine.rpc.errors import InvalidArgument


def test_loopback_is_insecure_as_in_docker():
    h = RegistryHosts()
    for domain in ("127.0.0.1:5000", "localhost:5000", "localhost", "127.1.2.3", "[::1]:5000"):
        assert h.is_insecure(domain), domain
    for domain in ("docker.io", "registry.example.com:5000", "10.1.2.3:5000"):
        assert not h.is_insecure(domain), domain


def test_configured_insecure_registries_and_mirrors(tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"insecure-registries": ["10.0.0.0/8", "myregistry:5000"],
                               "registry-mirrors": ["http://127.0.0.1:6000/", "https://mirror.example"]}))
    h = RegistryHosts.load(str(cfg))
    assert h.is_insecure("10.1.2.3:5000") and h.is_insecure("myregistry:5000")
    assert not h.is_insecure("myregistry:5001") and not h.is_insecure("11.0.0.1")
    assert h.endpoints("docker.io") == [("127.0.0.1:6000", True), ("mirror.example", False), ("docker.io", None)]
    assert h.endpoints("quay.io") == [("quay.io", None)]
    assert RegistryHosts.load(str(tmp_path / "none.json")).mirrors == []


@pytest.mark.parametrize("doc", ['{"registry-mirrors": ["mirror.example"]}', '[1]', '{"insecure-registries": [1]}',
                                 "not json"])
def test_bad_configuration(tmp_path, doc):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(doc)
    with pytest.raises(InvalidArgument):
        RegistryHosts.load(str(cfg))
