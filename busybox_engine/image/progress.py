"""Progress of one blob by bytes, as Docker shows a layer downloading or
pushing: told at most every INTERVAL seconds, so a fast transfer costs a
handful of notifications, not one per chunk."""
import time

INTERVAL = 0.2


class ByteProgress:
    def __init__(self, report, desc: dict, status: str):
        self.report = report
        self.digest = desc["digest"]
        self.size = desc["size"]
        self.media = desc.get("mediaType", "")
        self.status = status
        self.last = time.monotonic()

    def __call__(self, offset: int) -> None:
        now = time.monotonic()
        if now - self.last >= INTERVAL:
            self.last = now
            self.report({"digest": self.digest, "size": self.size, "status": self.status, "offset": offset,
                         "media": self.media})

