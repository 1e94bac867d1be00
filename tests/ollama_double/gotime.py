"""Go's duration syntax and Ollama's human-readable times, as the CLI prints them.

Facts: `--keepalive` is parsed with Go's `time.ParseDuration`, which needs a unit except for
"0" (`ollama run --keepalive -1` fails with `time: missing unit in duration "-1"`; the notes:
"`--keepalive` needs a unit"); a negative keep-alive means forever. `format.HumanTime` prints
`Forever` for times more than 20 years ahead, `N minutes from now`, `N seconds ago`, and
`format.HumanBytes` uses decimal units (ollama/ollama format/time.go, format/bytes.go).
"""

from __future__ import annotations

import math
import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


class DurationError(ValueError):
    pass


def parse_go_duration(text: str) -> float:
    """Seconds; raises DurationError with Go's own message."""
    body = text
    sign = 1.0
    if body[:1] in "+-" and body:
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return 0.0
    if not body:
        raise DurationError(f'time: invalid duration "{text}"')
    total = 0.0
    position = 0
    while position < len(body):
        match = _PART.match(body, position)
        if match is None:
            if re.fullmatch(r"[\d.]+", body[position:]):
                raise DurationError(f'time: missing unit in duration "{text}"')
            raise DurationError(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return sign * total


def keep_alive_seconds(value: object, default: float) -> float:
    """A request's keep_alive (JSON number of seconds or duration string); negative = forever."""
    if value is None:
        return default
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    if re.fullmatch(r"-?\d+", text):
        return float(text)
    return parse_go_duration(text)


def _human_duration(seconds: float) -> str:
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    return f"{hours // 24} days"


def human_time(delta_to_then: float | None, zero: str) -> str:
    """`format.HumanTime` given `then - now` in seconds (None = the zero time)."""
    if delta_to_then is None:
        return zero
    if delta_to_then > 20 * 365 * 24 * 3600:
        return "Forever"
    if delta_to_then > 0:
        return _human_duration(delta_to_then) + " from now"
    return _human_duration(-delta_to_then) + " ago"


def human_bytes(size: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            value = size / scale
            if value >= 10:
                return f"{int(value)} {unit}"
            if value != math.trunc(value):
                return f"{value:.1f} {unit}"
            return f"{int(value)} {unit}"
    return f"{size} B"
