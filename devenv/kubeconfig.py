"""Kubeconfig files for the throwaway control plane: the admin's (client certificate) and ServiceAccounts' (token).

Certificates are embedded rather than referenced by path, so a kubeconfig stays valid when copied elsewhere (e.g. the
stable copy ``devenv.cluster`` keeps) and needs nothing else from the control plane's temp dir.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

CONTEXT = "helmcr-dev"
MIN_TOKEN_SECONDS = 600  # the TokenRequest API refuses shorter lifetimes


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def write_kubeconfig(
    path: Path, server: str, ca_cert: Path, user: dict[str, str], namespace: str | None = None, context: str = CONTEXT
) -> Path:
    """Write a one-cluster, one-user kubeconfig whose current context is ``context``.

    Mode 0600 from the start: it holds credentials.
    """
    context_body: dict[str, str] = {"cluster": context, "user": context}
    if namespace:
        context_body["namespace"] = namespace
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority-data": _b64(ca_cert)}}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": context_body}],
        "current-context": context,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        yaml.safe_dump(config, stream, sort_keys=False)
    return path


def client_certificate_user(cert: Path, key: Path) -> dict[str, str]:
    return {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)}


def request_token(admin: client.ApiClient, namespace: str, name: str, seconds: int = 3600) -> str:
    """A bound token for ServiceAccount ``namespace/name`` from the TokenRequest API (as a kubelet would get one)."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=max(seconds, MIN_TOKEN_SECONDS))
    )
    response = client.CoreV1Api(admin).create_namespaced_service_account_token(name, namespace, request)
    if response.status is None or not response.status.token:
        raise RuntimeError(f"TokenRequest for ServiceAccount {namespace}/{name} returned no token")
    return str(response.status.token)


def service_account_kubeconfig(
    admin: client.ApiClient, server: str, ca_cert: Path, namespace: str, name: str, path: Path, seconds: int = 3600
) -> Path:
    """Write a kubeconfig that acts as ServiceAccount ``namespace/name``, so a test can prove which RBAC suffices.

    The ServiceAccount must exist. Its namespace becomes the context's default namespace.
    """
    token = request_token(admin, namespace, name, seconds)
    return write_kubeconfig(path, server, ca_cert, {"token": token}, namespace=namespace)
