"""Timestamps as Go's RFC3339Nano prints them (Docker's logs and events)."""
import functools
import time


GO_ZERO_UNIX = -62135596800   # Go's zero time.Time as Unix seconds: dockerd's "no date" for an image


def _timegm(y: int, m: int, d: int, hh: int, mm: int, ss: int) -> int:
    """calendar.timegm without importing calendar (and locale, datetime):
    days from the civil date (proleptic Gregorian), then seconds."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + hh * 3600 + mm * 60 + ss


def rfc3339nano(t: float | None = None) -> str:
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


@functools.lru_cache(maxsize=8192)
def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time ("...Z" or "+01:00");
    0 for Go's zero time or anything unreadable. Cached: listings parse
    the same container times on every request."""
    if not text or not isinstance(text, str) or text.startswith("0001-"):
        return 0.0
    try:
        if text[4] != "-" or text[7] != "-" or text[10] not in "Tt " or text[13] != ":" or text[16] != ":":
            return 0.0
        fields = (int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                  int(text[17:19]))
        rest, frac = text[19:], 0.0
        if rest.startswith("."):
            j = 1
            while j < len(rest) and rest[j].isdigit():
                j += 1
            frac = float("0" + rest[:j])
            rest = rest[j:]
        offset = 0
        if rest not in ("Z", "z", ""):
            if len(rest) != 6 or rest[0] not in "+-" or rest[3] != ":":
                return 0.0
            offset = (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60) * (1 if rest[0] == "+" else -1)
        if not (1 <= fields[1] <= 12 and 1 <= fields[2] <= 31 and fields[3] < 24 and fields[4] < 60
                and fields[5] < 61):
            return 0.0
        return _timegm(*fields) - offset + frac
    except (ValueError, IndexError):
        return 0.0


def human_duration(seconds: float) -> str:
    """A duration as Docker words it ("Up 5 seconds", "About an hour")."""
    # Go's time.Duration saturates at about 292 years ("292 years ago" for a zero date)
    seconds = min(seconds, 9223372036.854775807)
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600 / 24 / 365)} years"


_DURATION = r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)"
_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_duration(v: str) -> float:
    """Go's time.ParseDuration, in seconds."""
    import re
    s = v
    sign = 1
    if s[:1] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0.0
    total, pos = 0.0, 0
    if not s:
        raise ValueError(f'time: invalid duration "{v}"')
    while pos < len(s):
        m = re.compile(_DURATION).match(s, pos)
        if not m:
            if re.fullmatch(r"[0-9.]+", s[pos:]):
                raise ValueError(f'time: missing unit in duration "{v}"')
            raise ValueError(f'time: invalid duration "{v}"')
        total += float(m.group(1)) * _DUR_UNITS[m.group(2)]
        pos = m.end()
    return sign * total
