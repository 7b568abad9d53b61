"""Build the real components (helm, etcd, Kubernetes, a node's runtime, an OCI registry) from source.

Everything comes from the official Go modules through the Go module proxy: no release binaries can be downloaded on
the machines this project runs on, and a fake would prove nothing. Each component is built once per version into
``<cache>/bin/<component>-<version>/`` and reused until ``devenv/versions.env`` names another version; the Go module
and build caches (GOMODCACHE, GOCACHE) stay warm between runs, so a rebuild after a version bump is incremental.

Run as ``python -m devenv.build`` (stdlib only: it runs before the project's own dependencies are installed).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devenv.paths import cache_root, read_versions


class BuildError(RuntimeError):
    """A component could not be built; the message names the component and the failing command's output."""


@dataclass(frozen=True)
class Component:
    """One versioned build: the binaries it yields and the wrapper module that builds them."""

    name: str
    version: str
    binaries: tuple[str, ...]

    @property
    def bin_dir(self) -> Path:
        return cache_root() / "bin" / f"{self.name}-{self.version}"

    def is_built(self) -> bool:
        return (
            all((self.bin_dir / binary).is_file() for binary in self.binaries)
            and (self.bin_dir / ".complete").is_file()
        )


def components() -> list[Component]:
    versions = read_versions()
    return [
        Component("helm3", versions["HELM3_VERSION"], ("helm",)),
        Component("helm4", versions["HELM4_VERSION"], ("helm",)),
        Component("etcd", versions["ETCD_VERSION"], ("etcd",)),
        Component(
            "kubernetes",
            versions["KUBERNETES_VERSION"],
            ("kube-apiserver", "kube-controller-manager", "kubectl"),
        ),
        # The node is a component of its own so that its build never invalidates the control plane's.
        Component("kubernetes-node", versions["KUBERNETES_VERSION"], ("kube-scheduler", "kubelet", "pause")),
        Component("containerd", versions["CONTAINERD_VERSION"], ("containerd", "ctr", "containerd-shim-runc-v2")),
        Component("runc", versions["RUNC_VERSION"], ("runc",)),
        Component("cni-plugins", versions["CNI_PLUGINS_VERSION"], ("loopback",)),
        Component("distribution", versions["DISTRIBUTION_VERSION"], ("registry",)),
    ]


def go_env() -> dict[str, str]:
    """The environment for every go command: no toolchain download, no cgo (like upstream release builds)."""
    env = dict(os.environ)
    env.update({"GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"})
    return env


def run_go(component: Component, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    return run_tool(component, ["go", *args], cwd, {**go_env(), **(env or {})})


def run_tool(component: Component, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    try:
        process = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise BuildError(f"building {component.name} {component.version} needs {argv[0]!r}: {error}") from error
    if process.returncode != 0:
        tail = "\n".join((process.stderr or process.stdout).strip().splitlines()[-25:])
        raise BuildError(
            f"building {component.name} {component.version} failed: {' '.join(argv[:4])} ... "
            f"exited {process.returncode}:\n{tail}"
        )
    return process.stdout


def module_info(component: Component, module: str, work: Path) -> dict[str, str]:
    work.mkdir(parents=True, exist_ok=True)
    output = run_go(component, ["mod", "download", "-json", module], work)
    info: dict[str, str] = json.loads(output)
    return info


def write_wrapper(work: Path, go_mod: str) -> None:
    """A throwaway main module: the upstream modules carry replace directives that forbid `go install`."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text(go_mod)
    (work / "go.sum").unlink(missing_ok=True)


def build_helm(component: Component, work: Path) -> None:
    major = component.name[-1]
    module = f"helm.sh/helm/v{major}"
    info = module_info(component, f"{module}@{component.version}", work.parent)
    upstream_mod = Path(info["GoMod"]).read_text()
    go_directive = re.search(r"^go (\S+)$", upstream_mod, re.M)
    write_wrapper(
        work,
        f"module helmcr.local/build/{component.name}\n\ngo {go_directive.group(1) if go_directive else '1.24'}\n\n"
        f"require {module} {component.version}\n",
    )
    ldflags = [
        "-w",
        "-s",
        f"-X {module}/internal/version.version={component.version}",
        f"-X {module}/internal/version.gitTreeState=clean",
    ]
    client_go = re.search(r"k8s\.io/client-go v0\.(\d+)\.", upstream_mod)
    if major == "3" and client_go:
        # helm's own Makefile derives the Kubernetes version used by `helm template` from its client-go.
        for package in ("pkg/lint/rules", "pkg/chartutil"):
            ldflags += [
                f"-X {module}/{package}.k8sVersionMajor=1",
                f"-X {module}/{package}.k8sVersionMinor={client_go.group(1)}",
            ]
    run_go(
        component,
        [
            "build",
            "-mod=mod",
            "-trimpath",
            "-ldflags",
            " ".join(ldflags),
            "-o",
            str(work / "out") + "/",
            f"{module}/cmd/helm",
        ],
        work,
    )


def build_etcd(component: Component, work: Path) -> None:
    module = "go.etcd.io/etcd/server/v3"
    info = module_info(component, f"{module}@{component.version}", work.parent)
    go_directive = re.search(r"^go (\S+)$", Path(info["GoMod"]).read_text(), re.M)
    write_wrapper(
        work,
        f"module helmcr.local/build/etcd\n\ngo {go_directive.group(1) if go_directive else '1.24'}\n\n"
        f"require {module} {component.version}\n",
    )
    run_go(component, ["build", "-mod=mod", "-trimpath", "-o", str(work / "out" / "etcd"), module], work)


def kubernetes_ldflags(version: str) -> str:
    """Stamp the version as the upstream release build does, or /version reports v0.0.0-master."""
    major, minor = version.lstrip("v").split(".")[:2]
    build_date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": build_date,
        "gitCommit": f"{version}-from-module-proxy",
    }
    flags = ["-w", "-s"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{name}={value}" for name, value in values.items()]
    return " ".join(flags)


def build_kubernetes(component: Component, work: Path) -> None:
    info = module_info(component, f"k8s.io/kubernetes@{component.version}", work.parent)
    go_binaries = [binary for binary in component.binaries if binary != "pause"]
    upstream_mod = Path(info["GoMod"]).read_text()
    staging = re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/", upstream_mod, re.M)
    if not staging:
        raise BuildError(f"k8s.io/kubernetes {component.version}: no staging replace lines found in {info['GoMod']}")
    staging_version = "v0." + component.version.lstrip("v").split(".", 1)[1]
    go_directive = re.search(r"^go (\S+)$", upstream_mod, re.M)
    godebug = re.findall(r"^godebug .*$", upstream_mod, re.M)
    lines = [
        "module helmcr.local/build/kubernetes",
        "",
        f"go {go_directive.group(1) if go_directive else '1.24'}",
        "",
        *godebug,
        "",
        f"require k8s.io/kubernetes {component.version}",
        "",
        *[f"replace {module} => {module} {staging_version}" for module in staging],
    ]
    write_wrapper(work, "\n".join(lines) + "\n")
    packages = [f"k8s.io/kubernetes/cmd/{binary}" for binary in go_binaries]
    run_go(
        component,
        [
            "build",
            "-mod=mod",
            "-trimpath",
            "-tags",
            "selinux,notest",
            "-ldflags",
            kubernetes_ldflags(component.version),
            "-o",
            str(work / "out") + "/",
            *packages,
        ],
        work,
    )
    if "pause" in component.binaries:
        build_pause(component, Path(info["Dir"]), work)


def build_pause(component: Component, kubernetes_source: Path, work: Path) -> None:
    """The sandbox image's one binary, from the same module's C source: no image can be pulled here."""
    source = kubernetes_source / "build" / "pause" / "linux" / "pause.c"
    version = f'-DVERSION="{component.version}-helmcr"'
    run_tool(
        component,
        ["gcc", "-Os", "-Wall", "-Werror", "-static", version, "-o", str(work / "out" / "pause"), str(source)],
        work,
    )


def go_install(component: Component, work: Path, package: str, tags: str = "", **options: str) -> None:
    """`go install` of a module without replace directives, into the work dir; options: ldflags, cgo ("1")."""
    work.mkdir(parents=True, exist_ok=True)
    args = ["install", "-trimpath"]
    if tags:
        args += ["-tags", tags]
    if options.get("ldflags"):
        args += ["-ldflags", options["ldflags"]]
    env = {"GOBIN": str(work / "out"), "CGO_ENABLED": options.get("cgo", "0")}
    run_go(component, [*args, f"{package}@{component.version}"], work, env)


def build_containerd(component: Component, work: Path) -> None:
    module = "github.com/containerd/containerd/v2"
    ldflags = f"-w -s -X {module}/version.Version={component.version}"
    for command in ("containerd", "ctr"):
        go_install(component, work, f"{module}/cmd/{command}", "urfave_cli_no_docs no_btrfs", ldflags=ldflags)
    go_install(component, work, f"{module}/cmd/containerd-shim-runc-v2", "urfave_cli_no_docs no_grpc", ldflags=ldflags)


def build_runc(component: Component, work: Path) -> None:
    """runc needs cgo and Debian's libseccomp-dev (upstream's libpathrs tag has no library on bookworm)."""
    ldflags = f"-w -s -X main.version={component.version.lstrip('v')}"
    go_install(
        component, work, "github.com/opencontainers/runc", "seccomp urfave_cli_no_docs", ldflags=ldflags, cgo="1"
    )


def build_cni_plugins(component: Component, work: Path) -> None:
    go_install(component, work, "github.com/containernetworking/plugins/plugins/main/loopback")


def build_distribution(component: Component, work: Path) -> None:
    go_install(component, work, "github.com/distribution/distribution/v3/cmd/registry")


BUILDERS = {
    "helm3": build_helm,
    "helm4": build_helm,
    "etcd": build_etcd,
    "kubernetes": build_kubernetes,
    "kubernetes-node": build_kubernetes,
    "containerd": build_containerd,
    "runc": build_runc,
    "cni-plugins": build_cni_plugins,
    "distribution": build_distribution,
}


@contextlib.contextmanager
def build_lock(component: Component) -> Iterator[None]:
    """Serialize builds of one component across processes (make, pytest and `cluster up` may all ask at once).

    Two go builds writing the same output directory would corrupt each other; the lock is advisory and released by
    the kernel when its holder dies, so a killed build never blocks the next one.
    """
    lock_path = cache_root() / "locks" / f"{component.name}-{component.version}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


def build(component: Component) -> float:
    """Build one component into its cache directory; returns the seconds it took (0 when cached)."""
    if component.is_built():
        return 0.0
    with build_lock(component):
        if component.is_built():  # another process finished it while we waited for the lock
            return 0.0
        return build_unlocked(component)


def build_unlocked(component: Component) -> float:
    started = time.monotonic()
    work = cache_root() / "src" / f"{component.name}-{component.version}"
    shutil.rmtree(work / "out", ignore_errors=True)
    BUILDERS[component.name](component, work)
    component.bin_dir.mkdir(parents=True, exist_ok=True)
    for binary in component.binaries:
        shutil.copy2(work / "out" / binary, component.bin_dir / binary)
    (component.bin_dir / ".complete").write_text(component.version + "\n")
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="components to build (default: all)")
    args = parser.parse_args(argv)
    wanted = [c for c in components() if not args.names or c.name in args.names]
    failures = 0
    for component in wanted:
        print(f"devenv: {component.name} {component.version} ...", file=sys.stderr, flush=True)
        try:
            seconds = build(component)
        except BuildError as error:
            print(f"devenv: ERROR: {error}", file=sys.stderr)
            failures += 1
            continue
        how = f"built in {seconds:.0f} s" if seconds else "cached"
        print(f"devenv: {component.name} {component.version} {how}: {component.bin_dir}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
