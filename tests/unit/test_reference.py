"""Image names parsed and normalised as Docker does."""
import pytest

from busybox_engine.image.reference import normalize, parse
from busybox_engine.rpc.errors import InvalidArgument

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, full, familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("user/app:v1.0-rc_1", "docker.io/user/app:v1.0-rc_1", "user/app:v1.0-rc_1"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t"),
    (f"host:5000/a@{D}", f"host:5000/a@{D}", f"host:5000/a@{D}"),
    (f"busybox:1@{D}", f"docker.io/library/busybox:1@{D}", f"busybox:1@{D}"),
    ("a__b/c.d-e---f", "docker.io/a__b/c.d-e---f:latest", "a__b/c.d-e---f:latest"),
])
def test_docker_normalisation(text, full, familiar):
    ref = parse(text)
    assert str(ref) == normalize(text) == full
    assert ref.familiar() == familiar


def test_parts():
    ref = parse(f"127.0.0.1:5000/team/app@{D}")
    assert (ref.domain, ref.path, ref.tag, ref.digest, ref.object) == ("127.0.0.1:5000", "team/app", "", D, D)
    assert parse("busybox").object == "latest"


@pytest.mark.parametrize("text, message", [
    ("", "invalid reference format"),
    ("Busybox", "invalid reference format: repository name must be lowercase"),
    ("user/App", "invalid reference format: repository name must be lowercase"),
    ("busybox:", "invalid reference format"),
    ("busybox::tag", "invalid reference format"),
    ("a/../b", "invalid reference format"),
    ("-busybox", "invalid reference format"),
    ("busybox:" + "t" * 129, "invalid reference format"),
    ("busybox@sha256:xyz", "invalid reference format"),
    ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
    ("docker.io/" + "a" * 250, "must not be more than 255 characters"),
    ("busybox@md5:" + "a" * 32, "invalid checksum digest format"),
    (None, "invalid reference format"),
])
def test_invalid_references_get_dockers_text(text, message):
    with pytest.raises(InvalidArgument) as e:
        parse(text)
    assert message in str(e.value)
