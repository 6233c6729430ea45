"""Signal names as kill(1), runc and docker take them."""


def parse_signal(text: str) -> int:
    """SIGTERM, TERM, term or 15 -> 15; ValueError for anything else."""
    import signal
    t = str(text).upper()
    if t.isdigit():
        n = int(t)
        if 0 < n < 65:
            return n
        raise ValueError(f"unknown signal {text!r}")
    t = t[3:] if t.startswith("SIG") else t
    value = getattr(signal, "SIG" + t, None) if t and not t.startswith("_") else None
    if isinstance(value, int):
        return int(value)
    raise ValueError(f"unknown signal {text!r}")
