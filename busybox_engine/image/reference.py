"""Image references as Docker parses and normalises them.

    busybox                   -> docker.io/library/busybox:latest
    user/app:1.0              -> docker.io/user/app:1.0
    host:5000/a/b@sha256:...  -> host:5000/a/b@sha256:...

The grammar is distribution/reference's: a domain is the first component
when it has a '.' or ':' or is localhost; path components are lowercase
alphanumerics joined by '.', '_', '__' or dashes; tags are up to 128 word
characters, dots and dashes; the name is at most 255 characters.
"""
import re
from dataclasses import dataclass

from busybox_engine.rpc.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"^((?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::({_TAG}))?(?:@({_DIGEST}))?$")
_HEX64 = re.compile(r"^[a-f0-9]{64}$")
NAME_TOTAL_LENGTH_MAX = 255


@dataclass(frozen=True)
class Reference:
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """domain/path, what a repository is called."""
        return f"{self.domain}/{self.path}"

    @property
    def object(self) -> str:
        """What to ask the registry for: the digest if there is one, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    def familiar(self) -> str:
        """As Docker shows it: busybox:latest, user/app:1.0, host:5000/x:y."""
        s = str(self)
        if self.domain == DEFAULT_DOMAIN:
            s = s[len(DEFAULT_DOMAIN) + 1:]
            if s.startswith("library/") and "/" not in self.path[len("library/"):]:
                s = s[len("library/"):]
        return s


def _bad(text: str) -> InvalidArgument:
    return InvalidArgument(f"invalid reference format: {text}" if text else "invalid reference format")


def _split_domain(name: str) -> tuple:
    i = name.find("/")
    first = name[:i]
    if i == -1 or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
        domain, rest = DEFAULT_DOMAIN, name
    else:
        domain, rest = first, name[i + 1:]
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in rest:
        rest = "library/" + rest
    return domain, rest


def parse(text, default_tag: bool = True) -> Reference:
    """Docker's ParseNormalizedNamed (+ the default tag :latest when there
    is neither tag nor digest); InvalidArgument with Docker's error text."""
    if not isinstance(text, str) or not text:
        raise _bad("")
    if _HEX64.match(text):
        raise InvalidArgument(f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_domain(text)
    tag_sep = remainder.find(":")
    remote = remainder[:tag_sep] if tag_sep > -1 else remainder.split("@", 1)[0]
    if remote.lower() != remote:
        raise _bad("repository name must be lowercase")
    m = _REFERENCE.match(f"{domain}/{remainder}")
    if not m:
        raise _bad("")
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise _bad(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if digest and not re.match(r"^sha256:[0-9a-f]{64}$", digest):
        raise InvalidArgument(f"invalid checksum digest format: {digest}")
    dom, path = name.split("/", 1)
    if default_tag and not tag and not digest:
        tag = "latest"
    return Reference(dom, path, tag, digest)


def normalize(text) -> str:
    """The full name an image is stored under: docker.io/library/busybox:latest."""
    return str(parse(text))


def familiar(text) -> str:
    """busybox:latest for docker.io/library/busybox:latest, as docker shows names."""
    try:
        return parse(text).familiar()
    except InvalidArgument:
        return str(text)
