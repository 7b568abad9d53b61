"""The certificates and keys of a throwaway control plane, made with the ``openssl`` command line tool.

Each control plane gets its own CA, so a kubeconfig from one run can never authenticate against another, and nothing
is reused from the user's machine. Keys are ECDSA P-256 (fast to generate on a small machine) except the
service-account signing key, which is RSA like in most real clusters.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

VALIDITY_DAYS = 30  # long enough for a `make cluster-up` left running for weeks; the CA dies with its temp dir anyway
SERVER_NAMES = "IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"


class PkiError(RuntimeError):
    """openssl failed; the message carries its command line and stderr."""


@dataclass(frozen=True)
class Pki:
    """Paths of everything the control plane components and the admin kubeconfig need."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_key: Path
    service_account_public_key: Path


def openssl(*args: str) -> None:
    process = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if process.returncode != 0:
        raise PkiError(f"openssl {' '.join(args)} exited {process.returncode}: {process.stderr.strip()}")


def ec_key(path: Path) -> Path:
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))
    return path


def certificate_authority(directory: Path) -> tuple[Path, Path]:
    key = ec_key(directory / "ca.key")
    cert = directory / "ca.crt"
    openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        str(key),
        "-subj",
        "/CN=helmcr-dev-ca",
        "-days",
        str(VALIDITY_DAYS),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        "-out",
        str(cert),
    )
    return cert, key


def signed_certificate(
    directory: Path, name: str, subject: str, extensions: list[str], ca: tuple[Path, Path]
) -> tuple[Path, Path]:
    """A leaf certificate ``<name>.crt`` (with key ``<name>.key``) for ``subject``, signed by ``ca``."""
    key = ec_key(directory / f"{name}.key")
    csr, cert, extfile = (directory / f"{name}.{suffix}" for suffix in ("csr", "crt", "ext"))
    extfile.write_text(
        "\n".join(
            ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment", *extensions]
        )
        + "\n"
    )
    openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca[0]),
        "-CAkey",
        str(ca[1]),
        "-set_serial",
        str(secrets.randbits(64)),
        "-days",
        str(VALIDITY_DAYS),
        "-extfile",
        str(extfile),
        "-out",
        str(cert),
    )
    return cert, key


def service_account_key_pair(directory: Path) -> tuple[Path, Path]:
    """The key kube-apiserver signs ServiceAccount tokens with, and the public half it (and nobody else) verifies."""
    key, public = directory / "sa.key", directory / "sa.pub"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key))
    openssl("pkey", "-in", str(key), "-pubout", "-out", str(public))
    return key, public


def generate(directory: Path) -> Pki:
    """Write a fresh CA, the apiserver's serving certificate, the admin client certificate and the SA key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = certificate_authority(directory)
    serving = signed_certificate(
        directory,
        "serving",
        "/CN=kube-apiserver",
        ["extendedKeyUsage=serverAuth", f"subjectAltName={SERVER_NAMES}"],
        ca,
    )
    # Group system:masters is bound to cluster-admin by the RBAC bootstrap policy: this user may do anything.
    admin = signed_certificate(
        directory, "admin", "/O=system:masters/CN=helmcr-admin", ["extendedKeyUsage=clientAuth"], ca
    )
    sa_key, sa_public = service_account_key_pair(directory)
    return Pki(
        ca_cert=ca[0],
        ca_key=ca[1],
        serving_cert=serving[0],
        serving_key=serving[1],
        admin_cert=admin[0],
        admin_key=admin[1],
        service_account_key=sa_key,
        service_account_public_key=sa_public,
    )
