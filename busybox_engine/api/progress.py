"""containerd's pull and push progress as Docker's JSON progress messages:
one id (the layer digest's first 12 hex digits) per layer, statuses in
Docker's words, byte counts in progressDetail with Docker's bar."""
import json

from busybox_engine.util.units import human_size

CONFIG_MEDIA = ("application/vnd.oci.image.config.v1+json",
                "application/vnd.docker.container.image.v1+json")


def short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def bar(current: int, total: int) -> str:
    if total <= 0:
        return ""
    filled = min(50, int(50 * current / total))
    arrow = ">" if filled < 50 else "="
    return (f"[{'=' * filled}{arrow if filled < 50 else ''}{' ' * (50 - filled - (1 if filled < 50 else 0))}] "
            f"{human_size(current):>8}/{human_size(total)}")


def line(status: str, ident: str = "", current: int | None = None, total: int | None = None) -> bytes:
    msg = {"status": status}
    if ident:
        msg["progressDetail"] = {}
        if current is not None:
            msg["progressDetail"] = {"current": current, "total": total}
            msg["progress"] = bar(current, total or 0)
        msg["id"] = ident
    return json.dumps(msg).encode() + b"\r\n"


class Translator:
    """Events of one pull or push in, Docker's lines out (through emit)."""

    def __init__(self, kind: str, emit):
        self.kind = kind          # "pull" or "push"
        self.emit = emit
        self.seen = set()

    def __call__(self, event: dict) -> None:
        if not isinstance(event, dict) or event.get("media") in CONFIG_MEDIA:
            return
        digest = event.get("digest") or ""
        if not digest or not event.get("media"):
            return
        ident, status = short(digest), event.get("status")
        first = ident not in self.seen
        self.seen.add(ident)
        if self.kind == "pull":
            if status == "exists":
                if first:
                    self.emit(line("Already exists", ident))
                return
            if first:
                self.emit(line("Pulling fs layer", ident))
            if status == "downloading":
                self.emit(line("Downloading", ident, int(event.get("offset", 0)), int(event.get("size", 0))))
            elif status == "done":
                for s in ("Verifying Checksum", "Download complete", "Pull complete"):
                    self.emit(line(s, ident))
            return
        if first:
            self.emit(line("Preparing", ident))
        if status == "pushing":
            self.emit(line("Pushing", ident, int(event.get("offset", 0)), int(event.get("size", 0))))
        elif status == "pushed":
            self.emit(line("Pushed", ident))
        elif status == "exists":
            self.emit(line("Layer already exists", ident))
        elif status == "mounted":
            self.emit(line(f"Mounted from {event.get('from', '')}", ident))

    def rest(self, layers: list, status: str) -> list:
        """Lines for the layers no event told of (already there)."""
        out = []
        for layer in layers:
            ident = short(layer.get("digest", ""))
            if ident and ident not in self.seen:
                self.seen.add(ident)
                out.append(line(status, ident))
        return out
