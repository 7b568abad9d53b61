"""In-memory fakes of helmcr's two adapters, for fast unit tests of orchestration.

Each fake subclasses the real adapter and replaces only its seam (``Kube._send``, ``Helm._execute``), so the code
under test runs the real request building, paging, error mapping, argv building and values-file handling; what the
fakes answer follows the real API server and the real helm, and anything they do not implement fails loudly.
tests/unit/test_fakes.py is the proof that they do not lie.
"""

from tests.unit.fakes.api import LEASES, FakeApiError, FakeApiServer, FakeKube, Request
from tests.unit.fakes.helm import FakeHelm, HelmCall, RenderFailed, default_render

__all__ = [
    "LEASES",
    "FakeApiError",
    "FakeApiServer",
    "FakeHelm",
    "FakeKube",
    "HelmCall",
    "RenderFailed",
    "Request",
    "default_render",
]
