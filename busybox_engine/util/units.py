"""Sizes as Docker words them (go-units): HumanSize in decimal units,
BytesSize in binary ones, with a number of significant digits."""


def _size(n: float, base: float, names: tuple, precision: int) -> str:
    i = 0
    while n >= base and i < len(names) - 1:
        n /= base
        i += 1
    return f"{n:.{precision}g}{names[i]}"


def human_size(n: float, precision: int = 4) -> str:
    """HumanSizeWithPrecision: 2.417MB (4 digits, HumanSize), 2.42MB (3)."""
    return _size(n, 1000.0, ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"), precision)


def bytes_size(n: float, precision: int = 4) -> str:
    """BytesSize: 23.54GiB (4 digits); docker stats uses 3."""
    return _size(n, 1024.0, ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"), precision)
