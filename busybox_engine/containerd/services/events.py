"""events.subscribe: containerd's events to every subscriber, as notifications.

A subscriber that does not read is not buffered for without end: once its
connection holds more than the server's max_buffered bytes unsent, events
for it are dropped and counted, and when it catches up it is told how many
it missed (an `events.dropped` notification before the next event), and
the gap is logged.
"""
import sys

from busybox_engine.util.timefmt import rfc3339nano


class Events:
    def __init__(self):
        self.subscribers = {}  # connection -> events dropped since it last got one

    def subscribe(self, *, _conn) -> bool:
        self.subscribers[_conn] = 0
        _conn.closed.add_done_callback(lambda _: self.subscribers.pop(_conn, None))
        return True

    def publish(self, namespace: str, topic: str, event: dict) -> None:
        msg = {"namespace": namespace, "topic": topic, "event": event, "timestamp": rfc3339nano()}
        for conn, missed in list(self.subscribers.items()):
            if missed and conn.notify("events.dropped", {"dropped": missed}, droppable=True):
                sys.stderr.write(f"containerd: a slow events subscriber missed {missed} events\n")
                missed = 0
            if missed or not conn.notify("event", msg, droppable=True):
                missed += 1
            self.subscribers[conn] = missed
