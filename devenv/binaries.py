"""Paths of the built binaries, building whatever is missing first.

Callers (the control plane, the test fixtures, ``devenv.cluster``) ask for a binary by role and never assume it was
built beforehand: a fresh machine or a version bump in ``versions.env`` just makes the first call slow. A build failure
is raised, never skipped over, so integration tests fail loudly instead of silently testing less.
"""

from __future__ import annotations

from pathlib import Path

from devenv.build import BuildError, Component, build, components


def component(name: str) -> Component:
    for candidate in components():
        if candidate.name == name:
            return candidate
    raise KeyError(f"no component named {name!r} in devenv/versions.env")


def ensure_built(name: str) -> Path:
    """The bin directory of component ``name`` (helm3, helm4, etcd, kubernetes), built if needed."""
    wanted = component(name)
    build(wanted)  # raises BuildError naming the component; returns at once when cached
    if not wanted.is_built():
        raise BuildError(
            f"building {wanted.name} {wanted.version} reported success but left no binaries in {wanted.bin_dir}"
        )
    return wanted.bin_dir


def binary(component_name: str, binary_name: str) -> Path:
    return ensure_built(component_name) / binary_name


def helm_binary(major: int) -> Path:
    if major not in (3, 4):
        raise ValueError(f"helm major version must be 3 or 4, not {major}")
    return binary(f"helm{major}", "helm")


def kubectl_binary() -> Path:
    return binary("kubernetes", "kubectl")


def kube_apiserver_binary() -> Path:
    return binary("kubernetes", "kube-apiserver")


def kube_controller_manager_binary() -> Path:
    return binary("kubernetes", "kube-controller-manager")


def etcd_binary() -> Path:
    return binary("etcd", "etcd")


def version(name: str) -> str:
    """The pinned version of component ``name``, as written in versions.env (e.g. ``v1.37.2``)."""
    return component(name).version
