"""The Debian packages the test environment needs beyond a fresh machine, installed when missing.

runc is built with cgo against ``libseccomp-dev``; the CronJob image is built by ``buildah`` from base images that
``debootstrap`` makes (Docker Hub cannot be reached). ``make binaries`` runs this first, so the README's two commands
stay all the set-up there is. Stdlib only: it runs before the project's dependencies are installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

PACKAGES = ("buildah", "debootstrap", "libseccomp-dev")


def missing() -> list[str]:
    return [
        package
        for package in PACKAGES
        if subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True).stdout
        != "install ok installed"
    ]


def apt_get(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], capture_output=True, text=True, env=env, check=False)


def main() -> int:
    if shutil.which("dpkg-query") is None:
        print(f"devenv: not a Debian system: install {', '.join(PACKAGES)} yourself", file=sys.stderr)
        return 0
    wanted = missing()
    if not wanted:
        return 0
    if os.geteuid() != 0:
        names = " ".join(wanted)
        print(f"devenv: ERROR: the tests need {names}: run `sudo apt-get install {names}`", file=sys.stderr)
        return 1
    print(f"devenv: installing {' '.join(wanted)} from Debian's packages ...", file=sys.stderr, flush=True)
    installed = apt_get("install", "-y", *wanted)
    if installed.returncode != 0:  # a fresh machine may have no package lists yet
        apt_get("update")
        installed = apt_get("install", "-y", *wanted)
    if installed.returncode != 0:
        tail = "\n".join(installed.stderr.strip().splitlines()[-10:])
        print(f"devenv: ERROR: apt-get install {' '.join(wanted)} failed:\n{tail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
