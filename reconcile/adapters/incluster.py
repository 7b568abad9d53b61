"""The pod's own credentials, handed to helm as a kubeconfig.

client-go falls back to in-cluster credentials only when nothing else is configured, and an impersonation flag
(``--kube-as-user``, which helmcr passes so that helm acts as the release's ServiceAccount) counts as configured:
helm in a pod then talks to ``http://localhost:8080`` and fails. A kubeconfig naming the same server, CA file and
token file gives helm the pod's credentials explicitly. It holds paths, never the token, and client-go re-reads the
token file, so a token the kubelet rotates keeps working.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def in_cluster(environ: Mapping[str, str] = os.environ) -> bool:
    """In a pod, and no kubeconfig anywhere: the case in which both the Python client and helm use the pod's SA."""
    return (
        bool(environ.get("KUBERNETES_SERVICE_HOST"))
        and not environ.get("KUBECONFIG")
        and not Path(environ.get("HOME", "~")).expanduser().joinpath(".kube", "config").exists()
    )


def write_kubeconfig(
    directory: str, environ: Mapping[str, str] = os.environ, account_dir: Path = SERVICE_ACCOUNT_DIR
) -> str | None:
    """A kubeconfig for the pod's ServiceAccount in ``directory``; None outside a pod (helm's defaults then apply)."""
    token = account_dir / "token"
    if not in_cluster(environ) or not token.exists():
        return None
    host, port = environ["KUBERNETES_SERVICE_HOST"], environ.get("KUBERNETES_SERVICE_PORT", "443")
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "in-cluster",
                "cluster": {"server": server, "certificate-authority": str(account_dir / "ca.crt")},
            }
        ],
        "users": [{"name": "pod", "user": {"tokenFile": str(token)}}],
        "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "pod"}}],
        "current-context": "in-cluster",
    }
    path = Path(directory) / "in-cluster.kubeconfig"
    path.write_text(json.dumps(document))
    return str(path)
