"""Local stand-ins, made from Debian packages, for the base images ``cronjob/Dockerfile`` starts from.

Docker Hub cannot be reached from the machines this project is developed on, so ``golang:1.26-bookworm`` and
``python:3.11-slim`` cannot be pulled; Debian's mirror can. A stand-in is a ``debootstrap --variant=minbase`` rootfs
committed under the very name the Dockerfile uses, so the Dockerfile is built unchanged (``--pull=never`` finds it in
the project's own buildah storage and never asks a registry):

- ``golang``: the rootfs plus this machine's Go toolchain copied to ``/usr/local/go``, with the official image's
  PATH/GOPATH/GOTOOLCHAIN. Debian's own golang package is not used: bookworm has Go 1.19, too old for helm 3.22/4.
- ``python``: the rootfs plus Debian's python3 (3.11 on bookworm) and python3-venv. It is "externally managed"
  (PEP 668), which is why the Dockerfile installs helmcr into a venv.

Each stand-in is labelled with the hash of its recipe (suite, packages, environment, Go version), so it is made once
and remade only when the recipe changes; debootstrap's downloaded packages are kept in ``<cache>/images/debs``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from devenv.buildah import INPUTS_LABEL, Buildah, ImageBuildError, run_step
from devenv.paths import cache_root

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class StandIn:
    """What a stand-in is made of: every field is part of its key, so a change to any of them remakes it."""

    name: str
    description: str
    packages: tuple[str, ...]
    env: tuple[str, ...]
    workdir: str
    cmd: str
    go_version: str = ""  # a golang stand-in: the host toolchain copied in
    python_version: str = ""  # a python stand-in: the Python Debian's python3 must be

    @property
    def stored_as(self) -> str:
        """Always under ``localhost/``: committing the bare name would follow containers' short-name aliases (they
        map ``python`` to ``docker.io/library/python``) and file a stand-in as if it came from Docker Hub. A FROM of
        the bare name still finds it: local lookups of a short name try ``localhost/`` too."""
        return f"localhost/{self.name}"

    @property
    def key(self) -> str:
        recipe = {"suite": SUITE, "variant": "minbase", **asdict(self)}
        del recipe["description"]
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


@functools.cache
def host_go_env() -> dict[str, str]:
    """This machine's Go toolchain (the one devenv/build.py builds with): its version, GOROOT and caches."""
    names = ("GOVERSION", "GOROOT", "GOMODCACHE", "GOCACHE")
    values = run_step("asking this machine's Go about itself", ["go", "env", *names]).splitlines()
    return dict(zip(names, values, strict=True))


def stand_in_for(image: str) -> StandIn:
    """The recipe for a stand-in of ``image``, or an error when Debian cannot honestly provide what it names."""
    repository, _, tag = image.partition(":")
    version, _, flavour = tag.partition("-")
    if repository == "golang" and flavour == SUITE:
        go_version = host_go_env()["GOVERSION"].removeprefix("go")
        if not (go_version == version or go_version.startswith(version + ".")):
            raise ImageBuildError(f"{image} names Go {version}, but this machine's Go is {go_version}")
        return StandIn(
            name=image,
            description=(
                f"debootstrap --variant=minbase {SUITE} + ca-certificates, and this machine's Go {go_version} at "
                f"/usr/local/go (Debian's golang package, 1.19 on {SUITE}, is too old for helm)"
            ),
            packages=("ca-certificates",),
            env=(
                f"PATH=/go/bin:/usr/local/go/bin:{DEFAULT_PATH}",
                "GOPATH=/go",
                "GOTOOLCHAIN=local",
                f"GOLANG_VERSION={go_version}",
            ),
            workdir="/go",
            cmd="bash",
            go_version=go_version,
        )
    if repository == "python" and flavour == "slim":
        return StandIn(
            name=image,
            description=f"debootstrap --variant=minbase {SUITE} + python3, python3-venv, ca-certificates",
            packages=("ca-certificates", "python3", "python3-venv"),
            env=(f"PATH={DEFAULT_PATH}", "LANG=C.UTF-8"),
            workdir="/",
            cmd="python3",
            python_version=version,
        )
    raise ImageBuildError(f"no stand-in recipe for base image {image}: only golang:<go>-{SUITE} and python:<py>-slim")


def ensure_stand_in(buildah: Buildah, stand_in: StandIn) -> None:
    """Make the stand-in unless storage already holds it, made from the same recipe."""
    if buildah.inputs_of(stand_in.stored_as) == stand_in.key:
        return
    print(
        f"devenv: making a local stand-in for {stand_in.name} from Debian packages, because Docker Hub is "
        f"unreachable: {stand_in.description}",
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    step = f"making the stand-in for {stand_in.name}"
    container = buildah(step, "from", "scratch")
    try:
        fill_rootfs(stand_in, Path(buildah(step, "mount", container)))
        buildah(step, "umount", container)
        config = [arg for variable in stand_in.env for arg in ("--env", variable)]
        buildah(
            step,
            "config",
            *config,
            "--workingdir",
            stand_in.workdir,
            "--cmd",
            json.dumps([stand_in.cmd]),
            "--label",
            f"{INPUTS_LABEL}={stand_in.key}",
            container,
        )
        buildah(step, "commit", "--rm", "--quiet", container, stand_in.stored_as)
    except BaseException:
        with contextlib.suppress(ImageBuildError):
            buildah(step, "rm", container)
        raise
    print(f"devenv: {stand_in.name} (stand-in) made in {time.monotonic() - started:.0f} s", file=sys.stderr)


def fill_rootfs(stand_in: StandIn, rootfs: Path) -> None:
    """debootstrap straight into the container's mounted rootfs (no copy of a 200 MB tree), then the recipe's extras."""
    debs = cache_root() / "images" / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    run_step(
        f"debootstrap of {SUITE} for {stand_in.name}",
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(stand_in.packages)}",
            f"--cache-dir={debs}",
            SUITE,
            str(rootfs),
            MIRROR,
        ],
    )
    # What the official images leave out too: the package cache and lists, and the building host's name and resolver.
    for leftover in [*rootfs.glob("var/cache/apt/archives/*.deb"), *rootfs.glob("var/lib/apt/lists/*")]:
        if leftover.is_file():
            leftover.unlink()
    for host_file in ("etc/resolv.conf", "etc/hostname"):
        (rootfs / host_file).write_text("")
    if stand_in.go_version:
        shutil.copytree(host_go_env()["GOROOT"], rootfs / "usr/local/go", symlinks=True)
        for directory in ("go", "go/src", "go/bin"):  # as in the official image: a GOPATH any user may write
            (rootfs / directory).mkdir(exist_ok=True)
            (rootfs / directory).chmod(0o1777)
    if stand_in.python_version and not (rootfs / f"usr/bin/python{stand_in.python_version}").exists():
        raise ImageBuildError(f"{stand_in.name}: Debian {SUITE}'s python3 is not Python {stand_in.python_version}")
