"""The one clock of a run, and the one reader and writer of each time format helmcr meets.

Kubernetes writes RFC 3339 (conditions, events, ``nextAttemptTime``) and MicroTime (leases); helm stamps epoch
seconds; the config and helm's ``--timeout`` use Go durations. Each is parsed here once, into epoch seconds or
seconds, so no other module handles a time format.
"""

from __future__ import annotations

import datetime
import re

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MICRO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s)?$")


def now() -> str:
    return format_time(datetime.datetime.now(datetime.UTC).timestamp())


def now_micro() -> str:
    """MicroTime, as a Lease's acquireTime and renewTime are written."""
    return datetime.datetime.now(datetime.UTC).strftime(MICRO_TIME_FORMAT)


def format_time(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> float:
    """Epoch seconds of an RFC 3339 time (with or without fractions); 0.0 for anything else, which every caller
    reads as "long ago": an unreadable time never delays an action."""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration ("1h2m3s", "90s", "5m", "1.5s")."""
    match = GO_DURATION.fullmatch(text)
    if not match or not text:
        raise ValueError(f"not a duration: {text!r}")
    hours, minutes, seconds = (match.group(i) for i in (1, 2, 3))
    return (
        (float(hours[:-1]) * 3600 if hours else 0)
        + (float(minutes[:-1]) * 60 if minutes else 0)
        + (float(seconds[:-1]) if seconds else 0)
    )


def format_duration(seconds: float) -> str:
    """A Go duration helm accepts for ``--timeout``: whole seconds as "90s", fractions as "1.5s"."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:.3f}".rstrip("0") + "s"
