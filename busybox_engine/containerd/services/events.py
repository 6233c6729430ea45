"""events.subscribe: containerd's events to every subscriber, as notifications."""
from busybox_engine.util.timefmt import rfc3339nano


class Events:
    """events.subscribe: every event to every subscriber, as notifications."""

    def __init__(self):
        self.subscribers = set()

    def subscribe(self, *, _conn) -> bool:
        self.subscribers.add(_conn)
        _conn.closed.add_done_callback(lambda _: self.subscribers.discard(_conn))
        return True

    def publish(self, namespace: str, topic: str, event: dict) -> None:
        msg = {"namespace": namespace, "topic": topic, "event": event, "timestamp": rfc3339nano()}
        for conn in list(self.subscribers):
            conn.notify("event", msg)
