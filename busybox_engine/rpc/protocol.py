"""Message shapes, size limits and parameter checking for msgpack-RPC.

msgpack is imported on first use (new_unpacker, packb): the blocking
client, which ctr starts on every command, reads and writes with
rpc.minipack instead and must not pay for it."""

REQUEST, RESPONSE, NOTIFICATION = 0, 1, 2

# One message may not exceed this (a bigger one closes the connection);
# blobs travel as files or byte streams, not as RPC messages.
MAX_MESSAGE = 16 * 1024 * 1024
# incomplete messages of all of a server's clients together (a peer that
# sends part of a big message and stops holds that much memory)
MAX_PENDING = 32 * 1024 * 1024
# seconds a message may take to arrive once its first byte has
PARTIAL_TIMEOUT = 30.0
# unsent bytes past which a connection's droppable notifications are dropped
MAX_BUFFERED = 4 * 1024 * 1024


def buffer_size(max_message: int = MAX_MESSAGE) -> int:
    """An unpacker's buffer: a whole message plus the start of the next one."""
    return 2 * max_message + 65536


def new_unpacker(max_message: int = MAX_MESSAGE):
    """A msgpack.Unpacker for one peer's messages."""
    import msgpack
    return msgpack.Unpacker(raw=False, max_buffer_size=buffer_size(max_message))


def __getattr__(name: str):
    # packb: msgpack's Packer, made (and msgpack imported) on first use
    if name == "packb":
        import msgpack
        globals()["packb"] = msgpack.Packer(use_bin_type=True, autoreset=True).pack
        return globals()["packb"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Malformed(Exception):
    """The peer sent something that is not msgpack-RPC: drop the connection."""
