"""Fire-and-forget coroutines that cannot vanish.

The event loop holds only weak references to tasks: a task nobody keeps
can be garbage-collected while it waits, and its work silently never
happens (an exit never reported). Every background task goes through here.
"""
import asyncio

_running = set()


def spawn(coro) -> asyncio.Task:
    task = asyncio.ensure_future(coro)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task
