"""RFC 3339 times as Docker and Go write them, read back."""
import calendar
import time

from busybox_engine.util.timefmt import parse_rfc3339, rfc3339nano


def test_parse_what_we_and_go_write():
    base = calendar.timegm(time.strptime("2026-12-01T03:35:05", "%Y-%m-%dT%H:%M:%S"))
    assert parse_rfc3339("2026-12-01T03:35:05Z") == base
    assert abs(parse_rfc3339("2026-12-01T03:35:05.123456789Z") - (base + 0.123456789)) < 1e-6
    assert parse_rfc3339("2026-12-01T04:35:05+01:00") == base
    assert parse_rfc3339("2026-12-01T02:35:05.5-01:00") == base + 0.5
    t = time.time()
    assert abs(parse_rfc3339(rfc3339nano(t)) - t) < 1e-5


def test_zero_and_garbage_are_zero():
    for text in ("", "0001-01-01T00:00:00Z", "yesterday", "2026-13-01T00:00:00Z", "2026-12-01T03:35:05+0100",
                 "2026-12-01 03:35", None):
        assert parse_rfc3339(text) == 0.0
