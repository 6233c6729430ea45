"""The event loop the daemons run on: uvloop where it is available."""
import asyncio


def loop_factory():
    """uvloop's loop factory; plain asyncio's only when running from source.

    A compiled build ships uvloop, so its absence there is a broken build and
    must fail loudly instead of quietly running slower.
    """
    try:
        import uvloop
    except ImportError:
        if "__compiled__" in globals():
            raise
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run(coro):
    """Run coro to completion on a fresh loop (uvloop if we have it)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)
