"""What the helmcr image is made from, read without a builder: the Dockerfile's base images and its build context.

The image's tag is a hash of these inputs, so an unchanged tree finds the archive built before and returns at once,
while an edit under ``reconcile/`` (or of the Dockerfile, or of a base image's recipe) makes a new image. The set of
files hashed is the set the builder sends: it is read from ``cronjob/Dockerfile.dockerignore`` rather than listed
here a second time, so the two cannot drift apart. Stdlib only, and no subprocess: the unit tests pin this down.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

DOCKERFILE = Path("cronjob/Dockerfile")  # relative to the build context, the repository root
IGNOREFILE = Path("cronjob/Dockerfile.dockerignore")


def base_images(dockerfile: str) -> list[str]:
    """The images the Dockerfile's stages start from, with the global ``ARG`` defaults substituted, in order.

    Names of earlier stages (``FROM helm``) and ``scratch`` are not images, and ``--build-arg`` overrides of
    GO_VERSION or PYTHON_VERSION are not used by this project, so the defaults are the names the builder looks up.
    """
    defaults: dict[str, str] = {}
    stages: set[str] = set()
    images: list[str] = []
    for line in dockerfile.splitlines():
        keyword, *args = line.split() or [""]
        args = [arg for arg in args if not arg.startswith("--")]  # FROM --platform=...
        if keyword.upper() == "ARG" and not images and "=" in args[0]:
            name, _, value = args[0].partition("=")
            defaults[name] = value
        elif keyword.upper() == "FROM":
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: defaults[m[1] or m[2]], args[0])
            if image not in stages and image != "scratch":
                images.append(image)
            if len(args) == 3 and args[1].upper() == "AS":
                stages.add(args[2])
    return images


@dataclass(frozen=True)
class IgnoreRule:
    """One line of a .dockerignore: a path pattern, and whether it re-includes (``!``) what it matches."""

    pattern: str
    include: bool

    @property
    def segments(self) -> list[str]:
        return self.pattern.split("/")

    def matches(self, path: str) -> bool:
        """Docker's rule: a pattern matches a path when it matches the path itself or any of its parent directories."""
        regex = glob_regex(self.pattern)
        parts = path.split("/")
        return any(regex.fullmatch("/".join(parts[:depth])) for depth in range(1, len(parts) + 1))

    def may_include_below(self, directory: str) -> bool:
        """Whether this ``!`` rule could bring back a path strictly below ``directory`` (so it must be walked)."""
        parts = directory.split("/")
        if "**" in self.pattern:
            return True
        if len(self.segments) <= len(parts):
            return False
        return all(glob_regex(s).fullmatch(p) for s, p in zip(self.segments, parts, strict=False))


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Docker's glob syntax: ``*`` and ``?`` stay within one path segment, ``**`` spans any number of them.

    Character classes (``[a-z]``) are refused rather than half-supported: this project's ignore file does not use
    them, and a silently different match would hash a different context than the builder sends.
    """
    if "[" in pattern or "\\" in pattern:
        raise ValueError(f"dockerignore pattern {pattern!r}: character classes and escapes are not supported here")
    out = []
    for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
        out.append({"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token)))
    return re.compile("".join(out))


def ignore_rules(ignorefile: str) -> list[IgnoreRule]:
    rules = []
    for line in ignorefile.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
        rules.append(IgnoreRule(pattern, include))
    return rules


def excluded(rules: list[IgnoreRule], path: str) -> bool:
    """The last rule that matches decides, as in Docker; a path no rule matches is sent."""
    verdict = False
    for rule in rules:
        if rule.matches(path):
            verdict = not rule.include
    return verdict


def context_files(root: Path, ignorefile: str) -> list[str]:
    """The files of the build context the builder sends (paths relative to ``root``, sorted).

    An excluded directory is not walked unless a ``!`` rule could re-include something below it: the repository
    root holds .git and .venv, and the warm path must stay fast.
    """
    rules = ignore_rules(ignorefile)
    found: list[str] = []
    for directory, subdirs, files in os.walk(root):
        relative = Path(directory).relative_to(root).as_posix()
        prefix = "" if relative == "." else relative + "/"
        subdirs[:] = sorted(
            d
            for d in subdirs
            if not excluded(rules, prefix + d) or any(r.include and r.may_include_below(prefix + d) for r in rules)
        )
        found.extend(prefix + f for f in files if not excluded(rules, prefix + f))
    return sorted(found)


def inputs_hash(root: Path, extra: Mapping[str, str]) -> str:
    """A sha256 over the Dockerfile, its ignore file, every context file (path and bytes) and ``extra``.

    ``extra`` carries what the files do not say: the helm version passed as a build argument and the keys of the
    base images. Paths and lengths are hashed with the bytes, so moving or splitting a file changes the hash.
    """
    digest = hashlib.sha256()
    for chunk in hashed_chunks(root, extra):
        digest.update(len(chunk).to_bytes(8, "big"))
        digest.update(chunk)
    return digest.hexdigest()


def hashed_chunks(root: Path, extra: Mapping[str, str]) -> Iterator[bytes]:
    ignorefile = (root / IGNOREFILE).read_text()
    for relative in sorted({DOCKERFILE.as_posix(), IGNOREFILE.as_posix(), *context_files(root, ignorefile)}):
        yield relative.encode()
        yield (root / relative).read_bytes()
    for key in sorted(extra):
        yield f"{key}={extra[key]}".encode()


def tree_hash(root: Path) -> str:
    """A sha256 over every file below ``root`` (relative path and bytes), or of ``root`` itself when it is a file."""
    digest = hashlib.sha256()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        for chunk in (path.relative_to(root).as_posix().encode(), path.read_bytes()):
            digest.update(len(chunk).to_bytes(8, "big"))
            digest.update(chunk)
    return digest.hexdigest()
