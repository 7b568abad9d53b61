# Developer and CI entry points. Everything runs from .venv; the real components (helm 3 and 4, etcd,
# kube-apiserver, kube-controller-manager, kubectl) are built from the Go module proxy into ~/.cache/helmcr-dev
# once per version pinned in devenv/versions.env.
#
#   make test PYTEST_ARGS='tests/integration -x -q'   run (part of) the suite; default: all of tests/
#   eval "$$(make -s cluster-up)"                      a dev cluster for the shell; stdout carries only export lines
#   eval "$$(make -s cluster-up NODE=1)"               the same with one Ready node (kubelet, containerd; root only)
#   make cluster-down
#   make image                                         the CronJob image (cronjob/Dockerfile) built with buildah for
#                                                      helm 4 and 3; prints "<reference> <archive>" lines, archives
#                                                      that `ctr -n k8s.io images import` loads (devenv/image.py)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
# Reinstall only when the dependencies may have changed.
VENV_STAMP := $(VENV)/.installed-from-pyproject
PYTEST_ARGS ?=

.PHONY: venv binaries test lint bench cluster-up cluster-down demo image replay-operator-sdk

venv: $(VENV_STAMP)

# All output to stderr: `make -s cluster-up` may have to create the venv, and its stdout is eval'ed.
$(VENV_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "make: $(PYTHON) is older than 3.11; run make PYTHON=python3.11 ..." >&2; exit 1; }
	@test -x $(VENV_PYTHON) || $(PYTHON) -m venv $(VENV) >&2
	@$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev]' >&2
	@touch $@

binaries: venv
	@$(VENV_PYTHON) -m devenv.hostpackages
	@$(VENV_PYTHON) -m devenv.build

test: venv binaries
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy tests bench

NODE ?=
cluster-up: venv
	@HELMCR_DEV_NODE=$(NODE) $(VENV_PYTHON) -m devenv.cluster up

cluster-down: venv
	@$(VENV_PYTHON) -m devenv.cluster down

image: venv
	@$(VENV_PYTHON) -m devenv.image

demo: venv binaries
	@$(VENV_PYTHON) -m devenv.demo

# operator-sdk's own Helm e2e replayed with their files as they are (not shipped, not in the suite):
#   make replay-operator-sdk OPERATOR_SDK=/path/to/operator-sdk
OPERATOR_SDK ?=
replay-operator-sdk: venv binaries
	HELMCR_OPERATOR_SDK=$(OPERATOR_SDK) $(VENV)/bin/pytest tests/integration/replay_operator_sdk_e2e.py

# Figures for docs/benchmarks.md (not a test): BENCH_ARGS='--crs 1000 --changed 1,10,100 --concurrency 8'
BENCH_ARGS ?=
bench: venv binaries
	$(VENV_PYTHON) -m bench.sync_bench $(BENCH_ARGS)
