"""The one clock of a run, in the RFC 3339 form Kubernetes uses for condition and event times."""

from __future__ import annotations

import datetime

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime(TIME_FORMAT)
