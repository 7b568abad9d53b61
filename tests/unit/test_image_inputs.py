"""The helmcr image's cache key: which edits make a new image, and which base images the Dockerfile is built FROM."""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest

from devenv.buildah import ImageBuildError
from devenv.image import archive_names, archive_path
from devenv.image_inputs import (
    DOCKERFILE,
    IGNOREFILE,
    base_images,
    context_files,
    glob_regex,
    inputs_hash,
    tree_hash,
)
from devenv.paths import repo_root
from devenv.stand_ins import stand_in_for

REPO = repo_root()


def test_the_base_images_are_the_dockerfiles_from_lines_with_its_arg_defaults() -> None:
    dockerfile = (REPO / DOCKERFILE).read_text()
    defaults = dict(re.findall(r"^ARG (\w+_VERSION)=(\S+)$", dockerfile, re.M))
    assert base_images(dockerfile) == [
        f"golang:{defaults['GO_VERSION']}-bookworm",
        f"python:{defaults['PYTHON_VERSION']}-slim",
    ]


def test_stage_names_platform_flags_and_both_variable_forms() -> None:
    dockerfile = (
        "ARG BASE=debian\nARG TAG=12\n"
        "FROM --platform=linux/amd64 ${BASE}:$TAG AS build\nARG TAG=13\n"
        "FROM build AS again\nFROM scratch\nCOPY --from=build /x /x\n"
    )
    assert base_images(dockerfile) == ["debian:12"]


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A repository-shaped tree with the real Dockerfile and ignore file, and files inside and outside the context."""
    for relative in (DOCKERFILE, IGNOREFILE):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / relative, tmp_path / relative)
    write_tree(
        tmp_path,
        {
            "pyproject.toml": "[project]\n",
            "README.md": "# helmcr\n",
            "reconcile/__init__.py": "",
            "reconcile/adapters/helm.py": "HELM = 'helm'\n",
            "reconcile/adapters/__pycache__/helm.cpython-311.pyc": "compiled",
            "tests/unit/test_x.py": "",
            "docs/deploy.md": "# deploy\n",
            ".venv/lib/site.py": "",
        },
    )
    return tmp_path


def test_the_hashed_files_are_the_ones_the_ignore_file_lets_through(context: Path) -> None:
    ignorefile = (context / IGNOREFILE).read_text()
    assert context_files(context, ignorefile) == [
        "README.md",
        "pyproject.toml",
        "reconcile/__init__.py",
        "reconcile/adapters/helm.py",
    ]


@pytest.mark.parametrize(
    ("relative", "changes_the_image"),
    [
        ("reconcile/adapters/helm.py", True),
        ("reconcile/new_module.py", True),
        ("pyproject.toml", True),
        (str(DOCKERFILE), True),
        ("tests/unit/test_x.py", False),
        ("docs/deploy.md", False),
        ("reconcile/adapters/__pycache__/helm.cpython-311.pyc", False),
        (".venv/lib/site.py", False),
    ],
)
def test_an_edit_changes_the_hash_only_inside_the_build_context(
    context: Path, relative: str, changes_the_image: bool
) -> None:
    before = inputs_hash(context, {"HELM_VERSION": "v4.3.1"})
    with (context / relative).open("a") as edited:
        edited.write("\n# edited\n")
    assert (inputs_hash(context, {"HELM_VERSION": "v4.3.1"}) != before) is changes_the_image


def test_the_helm_version_and_base_keys_are_part_of_the_hash(context: Path) -> None:
    hashes = {
        inputs_hash(context, extra)
        for extra in ({"HELM_VERSION": "v4.3.1"}, {"HELM_VERSION": "v3.22.0"}, {"HELM_VERSION": "v4.3.1", "base": "k"})
    }
    assert len(hashes) == 3


def test_a_re_included_file_inside_an_excluded_directory_is_still_found(tmp_path: Path) -> None:
    write_tree(tmp_path, {"docs/keep.md": "", "docs/drop.md": "", "deep/a/b/keep.md": "", "top.md": ""})
    assert context_files(tmp_path, "*\n!docs/keep.md\n!**/keep.md\n") == ["deep/a/b/keep.md", "docs/keep.md"]


def test_globs_stay_within_a_segment_and_character_classes_are_refused() -> None:
    assert glob_regex("*.md").fullmatch("README.md")
    assert not glob_regex("*.md").fullmatch("docs/deploy.md")
    assert glob_regex("**/__pycache__").fullmatch("__pycache__")
    assert glob_regex("**/__pycache__").fullmatch("a/b/__pycache__")
    with pytest.raises(ValueError, match="character classes"):
        glob_regex("[a-z]*.md")


def test_a_chart_tree_hash_follows_names_and_bytes(tmp_path: Path) -> None:
    write_tree(tmp_path, {"chart/Chart.yaml": "name: c\n", "chart/templates/a.yaml": "a\n"})
    before = tree_hash(tmp_path / "chart")
    (tmp_path / "chart/templates/a.yaml").rename(tmp_path / "chart/templates/b.yaml")
    assert tree_hash(tmp_path / "chart") != before


def test_the_python_stand_in_is_keyed_by_its_recipe_and_unknown_bases_are_refused() -> None:
    python = stand_in_for("python:3.11-slim")
    assert python.stored_as == "localhost/python:3.11-slim"
    assert python.key == stand_in_for("python:3.11-slim").key != stand_in_for("python:3.12-slim").key
    assert {"python3", "python3-venv", "ca-certificates"} <= set(python.packages)
    with pytest.raises(ImageBuildError, match="no stand-in recipe"):
        stand_in_for("alpine:3.20")


def test_the_archive_is_named_from_the_reference_and_names_it_inside(tmp_path: Path) -> None:
    assert archive_path("localhost/helmcr:dev-0123456789ab-helm4").name == "helmcr-dev-0123456789ab-helm4.tar"
    archive = tmp_path / "image.tar"
    manifest = json.dumps([{"Config": "c.json", "RepoTags": ["localhost/helmcr:dev-x-helm4"], "Layers": []}]).encode()
    with tarfile.open(archive, "w") as tar:
        member = tarfile.TarInfo("manifest.json")
        member.size = len(manifest)
        tar.addfile(member, io.BytesIO(manifest))
    assert archive_names(archive) == ["localhost/helmcr:dev-x-helm4"]
