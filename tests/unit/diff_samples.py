"""A representative preview: an install, an upgrade and an uninstall, as helm would render them.

The golden files are renderings of these, and the leak tests search every rendering for ``SECRETS``: the strings
below that must never be shown (plain and base64), planted in Secrets, sensitive values and an env var.
"""

from __future__ import annotations

from reconcile.diff import ReleaseDiff, release_diff, sensitive_paths
from reconcile.model import Action, ReleaseKey

WEB_PASSWORD = "s3cr3t-web-password"
WEB_TOKEN = "tok-7f3a9c2e51"
OLD_DB_PASSWORD = "old-db-pass-0001"  # 16 bytes
NEW_DB_PASSWORD = "new-db-password-2024-xyz"  # 24 bytes
OLD_DB_URL = "postgres://api:hunter2hunter2@db:5432/api"
NEW_DB_URL = "postgres://api:correct-horse-battery@db:5432/api"
SECRETS = (
    WEB_PASSWORD,
    "czNjcjN0LXdlYi1wYXNzd29yZA==",
    WEB_TOKEN,
    OLD_DB_PASSWORD,
    "b2xkLWRiLXBhc3MtMDAwMQ==",
    NEW_DB_PASSWORD,
    "bmV3LWRiLXBhc3N3b3JkLTIwMjQteHl6",
    OLD_DB_URL,
    NEW_DB_URL,
)

WEB_MANIFEST = f"""\
---
# Source: web/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
  labels:
    app.kubernetes.io/name: web
---
# Source: web/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: web-auth
type: Opaque
data:
  password: czNjcjN0LXdlYi1wYXNzd29yZA==
---
# Source: web/templates/hpa.yaml
# autoscaling is disabled
---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app.kubernetes.io/name: web
  ports:
    - port: 80
      targetPort: http
---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: web
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web
    spec:
      serviceAccountName: web
      containers:
        - name: web
          image: "nginx:1.25"
          env:
            - name: ADMIN_TOKEN
              value: "{WEB_TOKEN}"
          ports:
            - name: http
              containerPort: 8080
"""

API_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"database": {"type": "object", "properties": {"url": {"type": "string", "writeOnly": True}}}},
}


def api_manifest(tag: str, password: str, url: str) -> str:
    return f"""\
---
# Source: api/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: api-db
  namespace: backend
stringData:
  username: api
  password: "{password}"
---
# Source: api/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: backend
  labels:
    app.kubernetes.io/name: api
    app.kubernetes.io/version: "{tag}"
spec:
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: api
  template:
    spec:
      containers:
        - name: api
          image: "registry.example.com/api:{tag}"
          env:
            - name: DATABASE_URL
              value: "{url}"
            - name: LOG_LEVEL
              value: info
          resources:
            limits:
              cpu: 500m
              memory: 256Mi
"""


LEGACY_MANIFEST = """\
---
# Source: legacy/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: legacy-config
data:
  greeting: "hello | world `quoted`"
---
# Source: legacy/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: legacy
spec:
  ports:
    - port: 8080
"""


def sample_diffs() -> list[ReleaseDiff]:
    """The three kinds of change a preview shows, in the plan's order."""
    install = release_diff(
        ReleaseKey("default", "web"),
        Action.INSTALL,
        desired_values={
            "image": {"repository": "nginx", "tag": "1.25"},
            "replicaCount": 2,
            "auth": {"password": WEB_PASSWORD, "adminToken": WEB_TOKEN},
        },
        desired_manifest=WEB_MANIFEST,
    )
    upgrade = release_diff(
        ReleaseKey("backend", "api"),
        Action.UPGRADE,
        deployed_values={"image": {"tag": "2.0.1"}, "database": {"url": OLD_DB_URL, "password": OLD_DB_PASSWORD}},
        desired_values={"image": {"tag": "2.1.0"}, "database": {"url": NEW_DB_URL, "password": NEW_DB_PASSWORD}},
        deployed_manifest=api_manifest("2.0.1", OLD_DB_PASSWORD, OLD_DB_URL),
        desired_manifest=api_manifest("2.1.0", NEW_DB_PASSWORD, NEW_DB_URL),
        sensitive_paths=sensitive_paths(API_SCHEMA),
    )
    uninstall = release_diff(
        ReleaseKey("default", "legacy"),
        Action.UNINSTALL,
        deployed_values={"replicaCount": 1, "greeting": "hello | world `quoted`"},
        deployed_manifest=LEGACY_MANIFEST,
    )
    return [install, upgrade, uninstall]
