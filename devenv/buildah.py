"""buildah, run against a storage of the project's own, and the one way image steps fail.

The storage root and run root live under the dev cache (``<cache>/images/storage``), so building images never adds to
or changes the system's ``/var/lib/containers``, and removing the cache removes every image with it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devenv.build import BuildError
from devenv.paths import cache_root

# overlay, checked on this machine (ext4 backing, native overlay diff): a layer costs only what it changes; vfs
# works everywhere but copies the whole rootfs for every layer (a Go toolchain image is 500 MB per step).
STORAGE_DRIVER = "overlay"

# chroot, not the default "oci": crun refuses this machine's hybrid cgroup v1/v2 layout ("cgroups in hybrid mode not
# supported, drop all controllers from cgroupv2"), and a build step needs neither cgroups nor its own namespaces
# beyond the mount namespace that chroot isolation gives it.
ISOLATION = "chroot"

# Every image made here carries the hash of what it was made from, so a lookup tells a current image from a stale one.
INPUTS_LABEL = "dev.helmcr.inputs"


class ImageBuildError(BuildError):
    """An image could not be made; the message names the step and shows the tail of the failing command's output."""


def run_step(step: str, argv: Sequence[str], cwd: Path | None = None, shown: Sequence[str] = ()) -> str:
    """Run one command of an image build; its stdout, or an :class:`ImageBuildError` naming ``step`` and showing
    ``shown`` (default: ``argv``) as the command, so that options common to every call do not hide the one that failed.
    """
    try:
        process = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise ImageBuildError(f"{step} needs {argv[0]!r} on PATH: {error}") from error
    if process.returncode != 0:
        output = (process.stdout + "\n" + process.stderr).strip().splitlines()
        tail = "\n".join(output[-30:])
        command = " ".join((shown or argv)[:6])
        raise ImageBuildError(f"{step} failed: {command} ... exited {process.returncode}:\n{tail}")
    return process.stdout


@dataclass(frozen=True)
class Buildah:
    """The buildah command line bound to one storage; every image of the dev environment lives in it."""

    storage: Path

    @classmethod
    def private(cls) -> Buildah:
        return cls(cache_root() / "images" / "storage")

    def __call__(self, step: str, *args: str, cwd: Path | None = None) -> str:
        global_options = ["--root", str(self.storage / "root"), "--runroot", str(self.storage / "runroot")]
        argv = ["buildah", *global_options, "--storage-driver", STORAGE_DRIVER, *args]
        return run_step(step, argv, cwd, shown=["buildah", *args]).strip()

    def inputs_of(self, reference: str) -> str | None:
        """The inputs key an image of ours carries (:data:`INPUTS_LABEL`); None when storage has no such image."""
        template = '{{index .OCIv1.Config.Labels "' + INPUTS_LABEL + '"}}'
        try:
            return self("looking up an image", "inspect", "--type", "image", "--format", template, reference)
        except ImageBuildError:
            return None
