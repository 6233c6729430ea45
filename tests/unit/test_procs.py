"""util.procs.run_piped: a child run to its end, its stdio through pipes."""
import asyncio
import os
import time

import pytest

from busybox_engine.util.procs import run_piped


def test_output_input_and_exit_code():
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WORD": "env-seen"}
    rc, out, err = asyncio.run(run_piped(["sh", "-c", 'cat; echo "$WORD"; echo oops >&2; exit 3'], b"in\n", env))
    assert (rc, out, err) == (3, b"in\nenv-seen\n", b"oops\n")


def test_a_cancelled_caller_waits_for_the_child(tmp_path):
    """Cancelled mid-run, run_piped returns only once the child has ended:
    the caller's cleanup never races what the child still does."""
    mark = tmp_path / "mark"

    async def main():
        task = asyncio.ensure_future(run_piped(["sh", "-c", f"sleep 0.5; echo done > {mark}"], b"", {}))
        await asyncio.sleep(0.1)
        task.cancel()
        start = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - start
    waited = asyncio.run(main())
    assert mark.read_text() == "done\n" and waited > 0.2
