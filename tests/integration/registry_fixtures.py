"""Session fixtures for remote charts: a real OCI registry and a real chart repository, each over HTTPS (one CA of
their own for both) with a password, listening on 127.0.0.1 (a pod with host networking reaches them too).

``oci_registry`` is a :class:`devenv.registry.OciRegistry`: ``host`` (127.0.0.1:port), ``url`` (oci://host),
``username``, ``password``, ``ca_cert``, ``push(helm, package, repository)`` (``helm registry login
--password-stdin`` into a registry config of the pusher's own, then ``helm push``; returns the chart's oci://
reference), ``docker_config(password=None)`` / ``write_docker_config(path, password=None)`` (the credentials as a
``kubernetes.io/dockerconfigjson`` Secret holds them, which is what helm reads as ``HELM_REGISTRY_CONFIG``).

``chart_repository`` is a :class:`devenv.registry.ChartRepository`: ``url``, ``username``, ``password``,
``ca_cert``, ``publish(helm, package, path)`` (copy + ``helm repo index``; returns the repository URL
``<url>/<path>``), ``add_to(helm, name, repositories_yaml, url, password=None)`` (an entry written by ``helm repo add
--password-stdin``, which is what ``HELM_REPOSITORY_CONFIG`` names). Give each test a ``repository``/``path`` of
its own (its namespace): the servers live for the whole session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devenv.registry import ChartRepository, OciRegistry, Tls, local_tls


@pytest.fixture(scope="session")
def registry_tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return local_tls(tmp_path_factory.mktemp("registry-tls"))


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory, registry_tls: Tls) -> Iterator[OciRegistry]:
    """distribution's ``registry serve``, stopped at the end of the session (its log: ``log_path``)."""
    with OciRegistry(tmp_path_factory.mktemp("oci-registry"), registry_tls) as registry:
        yield registry


@pytest.fixture(scope="session")
def chart_repository(tmp_path_factory: pytest.TempPathFactory, registry_tls: Tls) -> Iterator[ChartRepository]:
    """index.yaml and archives under basic auth, served by a thread of the test process (requests: ``log_path``)."""
    with ChartRepository(tmp_path_factory.mktemp("chart-repository"), registry_tls) as repository:
        yield repository
