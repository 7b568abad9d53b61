"""Real chart sources on loopback, for tests of remote charts: an OCI registry and a plain chart repository.

Both serve HTTPS with a certificate for 127.0.0.1 from a CA of their own (helm is told to trust it through
``SSL_CERT_FILE``, which Go reads instead of the system roots) and require a username and password, as a private
registry does, so a test proves credentials reach helm the way a pod would hand them over, never on a command line.

- :class:`OciRegistry` is the CNCF distribution registry (``registry serve``), built from its Go module like every
  other component, with htpasswd (bcrypt) authentication; its log goes to a file in its directory.
- :class:`ChartRepository` is ``index.yaml`` and ``.tgz`` files under basic auth: a stdlib HTTPS server in a thread
  of the calling process (a chart repository is nothing more; ``helm repo index`` writes the index).

Each listens on 127.0.0.1 only, so a pod with host networking reaches it too. Each is a context manager whose exit
stops it; the registry process also dies with its parent (:mod:`devenv.processes`).
"""

from __future__ import annotations

import base64
import hmac
import http.server
import json
import re
import secrets
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Self

import bcrypt
import yaml

from devenv import binaries, pki, processes
from devenv.controlplane import free_port, http_status
from devenv.helmcli import Helm

USERNAME = "helmcr"
READY_TIMEOUT = 30.0
POLL_SECONDS = 0.1
SERVED_SUFFIXES = (".tgz", ".prov")
INDEX = "index.yaml"


class RegistryError(RuntimeError):
    """A chart source did not come up, or a chart could not be published to it; the message says which and why."""


@dataclass(frozen=True)
class Tls:
    """A CA and a serving certificate (with its key) for 127.0.0.1 and localhost, signed by that CA."""

    ca_cert: Path
    cert: Path
    key: Path


def local_tls(directory: Path) -> Tls:
    """A new CA of its own (never the control plane's: trusting a registry must not mean trusting the cluster's
    certificates) and a serving certificate from it."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = pki.certificate_authority(directory)
    cert, key = pki.signed_certificate(
        directory,
        "serving",
        "/CN=127.0.0.1",
        ["extendedKeyUsage=serverAuth", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        ca,
    )
    return Tls(ca_cert=ca[0], cert=cert, key=key)


def trusting(helm: Helm, tls: Tls) -> Helm:
    """The same helm, trusting ``tls``'s CA (and only it) for HTTPS."""
    return replace(helm, env={**helm.env, "SSL_CERT_FILE": str(tls.ca_cert)})


class _PasswordServer:
    """What both chart sources share: a directory, a TLS identity, one user with a random password, a context."""

    def __init__(self, directory: Path, tls: Tls, username: str = USERNAME, password: str = "") -> None:
        self.directory = directory
        self.tls = tls
        self.username = username
        self.password = password or secrets.token_urlsafe(18)
        self.port = 0

    @property
    def ca_cert(self) -> Path:
        """The CA to trust (``SSL_CERT_FILE``) for this server."""
        return self.tls.ca_cert

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class OciRegistry(_PasswordServer):
    """``registry serve`` on 127.0.0.1:<free port>, TLS and htpasswd auth, storage in ``directory``."""

    def __init__(self, directory: Path, tls: Tls, username: str = USERNAME, password: str = "") -> None:
        super().__init__(directory, tls, username, password)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """host:port, as registry logins and docker configs name a registry."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"oci://{self.host}"

    @property
    def log_path(self) -> Path:
        return self.directory / "registry.log"

    def start(self) -> Self:
        command = binaries.binary("distribution", "registry")  # may build it first: before anything is started
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port(set())
        htpasswd = self.directory / "htpasswd"
        hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=10)).decode()
        htpasswd.write_text(f"{self.username}:{hashed}\n")
        config = self.directory / "config.yml"
        config.write_text(json.dumps(self._config(htpasswd)))  # JSON is YAML
        self._process = processes.spawn([str(command), "serve", str(config)], self.log_path)
        context = ssl.create_default_context(cafile=str(self.tls.ca_cert))

        def answers() -> bool:
            """Up: /v2/ answers over TLS, with a certificate the CA vouches for, and asks for credentials."""
            return http_status(self.port, "/v2/", context) == 401

        _wait_until(f"the OCI registry on {self.host}", self._process, self.log_path, answers)
        return self

    def stop(self) -> None:
        if self._process is not None:
            processes.terminate([self._process], grace_seconds=5.0)
            self._process = None

    def _config(self, htpasswd: Path) -> dict[str, object]:
        return {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text"},
            "storage": {"filesystem": {"rootdirectory": str(self.directory / "data")}, "delete": {"enabled": True}},
            "http": {
                "addr": self.host,
                "secret": secrets.token_hex(16),
                "tls": {"certificate": str(self.tls.cert), "key": str(self.tls.key)},
            },
            "auth": {"htpasswd": {"realm": "helmcr-dev", "path": str(htpasswd)}},
        }

    def docker_config(self, password: str | None = None) -> dict[str, object]:
        """Credentials for this registry as ``kubectl create secret docker-registry`` writes them (the
        ``.dockerconfigjson`` of a ``kubernetes.io/dockerconfigjson`` Secret), which helm reads as its registry
        config; ``password`` overrides the right one (a test of refused credentials)."""
        secret = self.password if password is None else password
        auth = base64.b64encode(f"{self.username}:{secret}".encode()).decode()
        return {"auths": {self.host: {"username": self.username, "password": secret, "auth": auth}}}

    def write_docker_config(self, path: Path, password: str | None = None) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.docker_config(password)))
        path.chmod(0o600)
        return path

    def push(self, helm: Helm, package: Path, repository: str) -> str:
        """``helm push`` a packaged chart to ``oci://<host>/<repository>``, logged in by ``helm registry login
        --password-stdin`` into a registry config of the pusher's own; returns the chart's reference
        (``oci://<host>/<repository>/<name>``) for a watch's ``chart:``."""
        pusher = trusting(helm, self.tls)
        registry_config = self.directory / "pusher" / f"helm{helm.major}-config.json"
        registry_config.parent.mkdir(parents=True, exist_ok=True)
        flags = ["--registry-config", str(registry_config)]
        pusher.run("registry", "login", self.host, "--username", self.username, "--password-stdin", *flags,
                   input=self.password)  # fmt: skip
        pusher.run("push", str(package), f"{self.url}/{repository}", *flags)
        return f"{self.url}/{repository}/{_chart_name(package)}"


class ChartRepository(_PasswordServer):
    """A chart repository (``index.yaml`` + archives) served from ``directory`` over HTTPS with basic auth.

    Each ``path`` under it is a repository of its own (``<url>/<path>``), so tests sharing one server never see
    each other's charts.
    """

    def __init__(self, directory: Path, tls: Tls, username: str = USERNAME, password: str = "") -> None:
        super().__init__(directory, tls, username, password)
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "requests.log"

    def start(self) -> Self:
        (self.directory / "charts").mkdir(parents=True, exist_ok=True)
        self.port = free_port(set())
        handler = _handler(self.directory / "charts", self.log_path, f"{self.username}:{self.password}")
        try:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        except OSError as error:
            raise RegistryError(f"the chart repository cannot listen on 127.0.0.1:{self.port}: {error}") from None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.tls.cert), str(self.tls.key))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="chart-repository", daemon=True)
        self._thread.start()
        client = ssl.create_default_context(cafile=str(self.tls.ca_cert))
        deadline = time.monotonic() + READY_TIMEOUT
        while http_status(self.port, f"/{INDEX}", client) != 401:
            if time.monotonic() > deadline:
                self.stop()
                raise RegistryError(f"the chart repository on {self.url} did not answer within {READY_TIMEOUT:.0f} s")
            time.sleep(POLL_SECONDS)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def publish(self, helm: Helm, package: Path, path: str) -> str:
        """Add a packaged chart to the repository at ``<url>/<path>`` and re-index it with ``helm repo index``;
        returns that repository's URL, for a watch's ``repo:``."""
        where = self.directory / "charts" / path
        where.mkdir(parents=True, exist_ok=True)
        shutil.copy2(package, where / package.name)
        url = f"{self.url}/{path}"
        helm.run("repo", "index", str(where), "--url", url)
        return url

    def add_to(self, helm: Helm, name: str, repository_config: Path, url: str, password: str | None = None) -> Path:
        """An entry ``name`` for ``url`` in a repositories.yaml, written by ``helm repo add --password-stdin`` (so
        the file is helm's own); ``password`` overrides the right one. helm fetches the index to check it, so a
        wrong password is written with ``--force-update`` into a file that held the right one first."""
        adder = trusting(helm, self.tls)
        cache = repository_config.parent / f"{repository_config.stem}-cache"
        flags = ["--repository-config", str(repository_config), "--repository-cache", str(cache)]
        adder.run("repo", "add", name, url, "--username", self.username, "--password-stdin", *flags,
                  input=self.password)  # fmt: skip
        if password is not None:
            _replace_password(repository_config, name, password)
        return repository_config


def _replace_password(repository_config: Path, name: str, password: str) -> None:
    """helm refuses to add an entry whose credentials it cannot use, so a wrong one is written in its place."""
    document = yaml.safe_load(repository_config.read_text())
    for entry in document["repositories"]:
        if entry["name"] == name:
            entry["password"] = password
    repository_config.write_text(yaml.safe_dump(document))


def _handler(root: Path, log_path: Path, credentials: str) -> type[http.server.BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(credentials.encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        """GET of index.yaml or an archive, only with the right credentials; nothing else."""

        def do_GET(self) -> None:
            if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="helmcr-dev"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            relative = self.path.split("?", 1)[0].lstrip("/")
            target = (root / relative).resolve()
            servable = target.is_file() and target.is_relative_to(root.resolve())
            if not servable or not (target.name == INDEX or target.name.endswith(SERVED_SUFFIXES)):
                self.send_error(404)
                return
            body = target.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip" if target.name.endswith(".tgz") else "text/yaml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            with log_path.open("a") as log:
                log.write(f"{self.address_string()} {format % args}\n")

    return Handler


def _chart_name(package: Path) -> str:
    """``memcached-0.2.0-rc.1.tgz`` → ``memcached``: helm names a package ``<name>-<version>.tgz``."""
    named = re.fullmatch(r"(.+?)-(\d+\.\d+\.\d+.*)\.tgz", package.name)
    if named is None:
        raise RegistryError(f"{package} is not named as helm package names a chart (<name>-<version>.tgz)")
    return named[1]


def _wait_until(what: str, process: subprocess.Popen[bytes], log: Path, ready: Callable[[], bool]) -> None:
    """A registry that does not come up is stopped before the error is raised: no test gets to use it."""
    try:
        processes.wait_ready(what, process, ready, log, READY_TIMEOUT, RegistryError)
    except RegistryError:
        processes.terminate([process], grace_seconds=1.0)
        raise
