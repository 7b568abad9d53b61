"""Fixtures for the tests that need a real node: one at a time per machine (the kubelet's host paths are fixed),
started the first time a test asks for it and stopped with the session, and the helmcr images it runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devenv import image
from devenv.controlplane import ControlPlane
from devenv.node import Node
from tests.integration.support import REPO

E2E_CHARTS = {"greeting": REPO / "tests" / "fixtures" / "charts" / "greeting"}


class NodeSlot:
    """The run's one node: started on first use, and given up by a test that must start (or kill) a node itself."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self._node: Node | None = None

    def node(self) -> Node:
        if self._node is None:
            self._node = Node(self.plane).start()
        return self._node

    def release(self) -> None:
        if self._node is not None:
            self._node.stop()
            self._node = None


@pytest.fixture(scope="session")
def node_slot(control_plane: ControlPlane) -> Iterator[NodeSlot]:
    slot = NodeSlot(control_plane)
    yield slot
    slot.release()


@pytest.fixture
def node(node_slot: NodeSlot) -> Node:
    return node_slot.node()


@pytest.fixture(scope="session", params=[3, 4], ids=["image-helm3", "image-helm4"])
def helmcr_image_archive(request: pytest.FixtureRequest) -> image.ImageArchive:
    """cronjob/Dockerfile built with helm 3 or 4, plus the e2e charts in /charts (the two-line derived image
    docs/deploy.md describes)."""
    return image.ensure_chart_image(image.ensure_image(request.param), E2E_CHARTS)


@pytest.fixture
def helmcr_image(node: Node, helmcr_image_archive: image.ImageArchive) -> str:
    """The image's reference, once it is on the node (imported, never pulled)."""
    node.import_image(helmcr_image_archive.path)
    return helmcr_image_archive.reference
