"""``python -m devenv.image``: the helmcr image, built from ``cronjob/Dockerfile`` with buildah, as an archive that
``ctr -n k8s.io images import`` loads under the image's own name.

The Dockerfile is the one users build with ``docker build``; here it is built by buildah (no Docker daemon, no Docker
Hub) FROM local stand-ins of its base images (:mod:`devenv.stand_ins`). Everything the build needs of this machine is
given on buildah's command line and stays out of the image: the host network, the host CA bundle (the TLS
interception proxy's CA is in it) mounted read-only over the image's own, and for the Go stage the host's Go module
and build caches, so the in-image ``go install`` of helm reuses what ``make binaries`` downloaded and compiled.

The image is tagged ``localhost/helmcr:dev-<hash12>-helm<major>``, the hash taken over its inputs
(:mod:`devenv.image_inputs`), and exported to ``<cache>/images/<name>.tar``: with unchanged inputs a second call finds
the archive and returns at once, without starting buildah.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from devenv.buildah import INPUTS_LABEL, ISOLATION, Buildah, ImageBuildError
from devenv.image_inputs import DOCKERFILE, IGNOREFILE, base_images, inputs_hash, tree_hash
from devenv.paths import cache_root, read_versions, repo_root
from devenv.stand_ins import StandIn, ensure_stand_in, host_go_env, stand_in_for

REPOSITORY = "localhost/helmcr"
# Debian's bundle path, which is also where both base images (official or stand-in) keep theirs.
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# Where the golang image's go looks for its caches: GOPATH=/go, and root's HOME.
IMAGE_GOMODCACHE = "/go/pkg/mod"
IMAGE_GOCACHE = "/root/.cache/go-build"
CHART_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class ImageArchive:
    """An image in the project's buildah storage, and its exported archive, which names it ``reference``."""

    reference: str
    path: Path


def images_dir() -> Path:
    return cache_root() / "images"


def archive_path(reference: str) -> Path:
    return images_dir() / (reference.rpartition("/")[2].replace(":", "-") + ".tar")


@dataclass(frozen=True)
class ImagePlan:
    """What ``ensure_image`` would build with today's inputs: the image, its inputs key, helm, and its bases."""

    image: ImageArchive
    key: str
    helm_version: str
    stand_ins: list[StandIn]


def planned_image(helm_major: int) -> ImagePlan:
    """Computed without buildah (a few ms): the warm path of ``ensure_image`` is this and one stat."""
    if helm_major not in (3, 4):
        raise ValueError(f"helm major version must be 3 or 4, not {helm_major}")
    helm_version = read_versions()[f"HELM{helm_major}_VERSION"]
    stand_ins = [stand_in_for(image) for image in base_images((repo_root() / DOCKERFILE).read_text())]
    extra = {"HELM_VERSION": helm_version, **{f"base {s.name}": s.key for s in stand_ins}}
    key = inputs_hash(repo_root(), extra)
    reference = f"{REPOSITORY}:dev-{key[:12]}-helm{helm_major}"
    return ImagePlan(ImageArchive(reference, archive_path(reference)), key, helm_version, stand_ins)


def ensure_image(helm_major: int) -> ImageArchive:
    """The helmcr image with helm ``helm_major`` (3 or 4) at the version pinned in versions.env, built if needed."""
    plan = planned_image(helm_major)
    image = plan.image
    if image.path.is_file():
        return image
    with images_lock():
        if image.path.is_file():  # another process built it while we waited
            return image
        buildah = Buildah.private()
        for stand_in in plan.stand_ins:
            ensure_stand_in(buildah, stand_in)
        build_helmcr(buildah, image.reference, plan.key, plan.helm_version)
        smoke_test(
            buildah,
            image.reference,
            [(["/opt/helmcr/bin/helmcr", "--help"], "sync"), (["helm", "version", "--short"], plan.helm_version)],
        )
        export(buildah, image)
        for stale in images_dir().glob(f"helmcr-dev-*-helm{helm_major}.tar"):
            if stale != image.path:
                remove(buildah, [stale, *images_dir().glob(f"helmcr-charts-{tag_of(stale)}-*.tar")])
    return image


def tag_of(archive: Path) -> str:
    return archive.stem.removeprefix("helmcr-")


def remove(buildah: Buildah, archives: Sequence[Path]) -> None:
    """Archives (and their images) of earlier inputs: each is over 400 MB, and every edit of reconcile/ makes one. A
    chart image goes with its base (its name says which)."""
    for archive in archives:
        names = archive_names(archive)
        archive.unlink()
        for name in names:
            with contextlib.suppress(ImageBuildError):
                buildah(f"removing {name}", "rmi", name)


def build_helmcr(buildah: Buildah, reference: str, key: str, helm_version: str) -> None:
    """Two runs of ``buildah bud`` over the same Dockerfile: the Go stage alone, then the whole image.

    A ``--volume`` applies to every RUN of a build and leaves its mount point behind in the layer, so the Go caches
    are mounted only while the Go stage is built; the second run finds that stage in the layer cache (volumes are not
    part of a step's cache key) and builds the Python stage with the CA bundle alone, which replaces a file the image
    has anyway.
    """
    ca = ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
    go = host_go_env()
    caches = [("GOMODCACHE", IMAGE_GOMODCACHE), ("GOCACHE", IMAGE_GOCACHE)]
    for name, _ in caches:
        Path(go[name]).mkdir(parents=True, exist_ok=True)
    go_caches = [arg for name, inside in caches for arg in ("--volume", f"{go[name]}:{inside}")]
    bud = [
        "bud",
        "--isolation", ISOLATION,
        "--network", "host",
        "--pull=never",  # the base images are the local stand-ins: Docker Hub is never asked
        "--layers",
        "--force-rm",  # a failed step's working container too: storage keeps images only
        "--file", str(DOCKERFILE),
        "--ignorefile", str(IGNOREFILE),
        "--build-arg", f"HELM_VERSION={helm_version}",
    ]  # fmt: skip
    root = repo_root()
    go_stage = f"building the Go stage of {DOCKERFILE} (helm {helm_version})"
    buildah(go_stage, *bud, *ca, *go_caches, "--target", "helm", str(root), cwd=root)
    label = f"{INPUTS_LABEL}={key}"
    buildah(
        f"building {DOCKERFILE} as {reference}", *bud, *ca, "--label", label, "--tag", reference, str(root), cwd=root
    )


def ensure_chart_image(base: ImageArchive, charts: Mapping[str, Path]) -> ImageArchive:
    """An image ``FROM base`` with each chart copied to ``/charts/<name>``: the two-line pattern of docs/deploy.md.

    Keyed by the base's reference and every chart's files, so an unchanged set of charts is not rebuilt.
    """
    for name, path in charts.items():
        if not CHART_NAME.fullmatch(name) or not path.exists():
            raise ValueError(f"chart {name!r} at {path}: need a plain name and an existing chart directory or archive")
    parts = [base.reference, *(f"{name}={tree_hash(charts[name])}" for name in sorted(charts))]
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    reference = f"{REPOSITORY}-charts:{base.reference.rpartition(':')[2]}-{key[:12]}"
    image = ImageArchive(reference, archive_path(reference))
    if image.path.is_file():
        return image
    with images_lock():
        if image.path.is_file():
            return image
        buildah = Buildah.private()
        if buildah.inputs_of(base.reference) is None:  # storage was reset since: the archive still has the image
            loaded = buildah(f"loading {base.path}", "pull", "--quiet", f"docker-archive:{base.path}")
            buildah(f"naming {loaded} {base.reference}", "tag", loaded, base.reference)
        build_chart_image(buildah, base, charts, reference, key)
        smoke_test(buildah, reference, [(["helm", "show", "chart", f"/charts/{name}"], "name:") for name in charts])
        export(buildah, image)
    return image


def build_chart_image(
    buildah: Buildah, base: ImageArchive, charts: Mapping[str, Path], reference: str, key: str
) -> None:
    """``buildah bud`` of a generated Containerfile, in a context holding copies of the charts (they may live in
    different directories, and a build context is one)."""
    images_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=images_dir(), prefix="context-") as directory:
        context = Path(directory)
        (context / "charts").mkdir()
        containerfile = [f"FROM {base.reference}"]
        for name in sorted(charts):
            copy = shutil.copytree if charts[name].is_dir() else shutil.copy2
            copy(charts[name], context / "charts" / name)
            containerfile.append(f"COPY charts/{name} /charts/{name}")
        (context / "Containerfile").write_text("\n".join(containerfile) + "\n")
        label = f"{INPUTS_LABEL}={key}"
        bud = [
            "bud",
            "--pull=never",
            "--layers",
            "--force-rm",
            "--isolation",
            ISOLATION,
            "--label",
            label,
            "--tag",
            reference,
        ]
        buildah(f"building {reference} FROM {base.reference}", *bud, str(context))


def smoke_test(buildah: Buildah, reference: str, checks: Sequence[tuple[list[str], str]]) -> None:
    """Run each command in a container of the image (as its USER, with its ENV); its output must contain the text.

    An image that cannot run its own entrypoint or helm is not exported: the failure shows here, with the command's
    output, rather than later as a CrashLoopBackOff on the node.
    """
    step = f"trying {reference}"
    container = buildah(step, "from", "--pull=never", "--quiet", reference)
    try:
        for argv, expected in checks:
            output = buildah(f"{step}: {' '.join(argv)}", "run", "--isolation", ISOLATION, container, "--", *argv)
            if expected not in output:
                raise ImageBuildError(f"{step}: {' '.join(argv)} printed no {expected!r}:\n{output[-2000:]}")
    finally:
        buildah(step, "rm", container)


def export(buildah: Buildah, image: ImageArchive) -> None:
    """Write the image as a docker-archive, the format whose name ``ctr images import`` takes as it is.

    containerd v2.4's importer turns a docker-archive's ``manifest.json`` RepoTags into the full image name
    (``io.containerd.image.name``). An OCI archive names an image only by ``org.opencontainers.image.ref.name``, which
    the OCI spec means as a tag: ctr keeps a full reference found there but prefixes a bare tag with ``import-<date>``
    and drops names that do not match ``--base-name``, so the name would depend on how ctr is called. The archive is
    written beside its final path and renamed into place, so a path that exists is a complete archive.
    """
    partial = image.path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    destination = f"docker-archive:{partial}:{image.reference}"
    buildah(f"exporting {image.reference}", "push", "--quiet", image.reference, destination)
    names = archive_names(partial)
    if names != [image.reference]:
        raise ImageBuildError(f"exporting {image.reference}: {partial} names {names}, not [{image.reference!r}]")
    os.replace(partial, image.path)


def archive_names(archive: Path) -> list[str]:
    """The image names a docker-archive carries (``manifest.json``, RepoTags of every image in it)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise ImageBuildError(f"{archive} has no manifest.json: not a docker-archive")
        manifest: list[dict[str, list[str]]] = json.load(member)
    return [name for entry in manifest for name in entry.get("RepoTags") or []]


@contextlib.contextmanager
def images_lock() -> Iterator[None]:
    """One image build at a time across processes: two builds on 2 cores only slow each other, and both would make
    the same stand-ins. Advisory, released by the kernel when its holder dies."""
    path = cache_root() / "locks" / "images.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--helm", type=int, choices=(3, 4), action="append", help="helm major (default: 4 and 3)")
    args = parser.parse_args(argv)
    for major in args.helm or [4, 3]:
        started = time.monotonic()
        try:
            image = ensure_image(major)
        except ImageBuildError as error:
            print(f"devenv: ERROR: {error}", file=sys.stderr)
            return 1
        print(f"devenv: {image.reference} ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
        print(f"{image.reference} {image.path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
