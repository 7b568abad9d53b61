"""A one-layer OCI image archive made from files on disk, for images too small to need a builder.

The node's sandbox (pause) image is one static binary: no registry can be reached here to pull it, and a builder
would need a base image first. The archive is an OCI image layout in a tar, with the ``io.containerd.image.name``
annotation that ``ctr images import`` names the image by.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class ImageFile:
    """A file of the image: where it goes, what it holds, its mode."""

    path: str
    data: bytes
    mode: int = 0o755


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(files: list[ImageFile]) -> tuple[bytes, bytes]:
    """The uncompressed layer tar (whose digest is the config's diff id) and its reproducible gzip."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for file in files:
            info = tarfile.TarInfo(file.path.lstrip("/"))
            info.size, info.mode, info.mtime = len(file.data), file.mode, 0
            layer.addfile(info, io.BytesIO(file.data))
    compressed = gzip.compress(raw.getvalue(), mtime=0)
    return raw.getvalue(), compressed


def write_image(archive: Path, name: str, files: list[ImageFile], entrypoint: list[str], user: str = "") -> Path:
    """Write ``archive`` holding image ``name`` (e.g. ``localhost/helmcr-pause:v1``) with ``files`` in one layer."""
    raw_layer, layer = _layer(files)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": entrypoint, "User": user},
            "rootfs": {"type": "layers", "diff_ids": [_digest(raw_layer)]},
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": MEDIA_LAYER, "digest": _digest(layer), "size": len(layer)}],
        },
        sort_keys=True,
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": MEDIA_MANIFEST,
                "digest": _digest(manifest),
                "size": len(manifest),
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
                },
            }
        ],
    }
    entries = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, sort_keys=True).encode(),
        **{f"blobs/sha256/{_digest(blob).split(':')[1]}": blob for blob in (config, manifest, layer)},
    }
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    with tarfile.open(partial, "w") as tar:
        for entry, data in entries.items():
            info = tarfile.TarInfo(entry)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    partial.replace(archive)
    return archive
