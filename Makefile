# hull: `make demo` and `make test` each set up everything they need first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
# Debian packages the demo and the tests use: a static busybox for base
# rootfs, runc as the reference runtime the tests compare against, podman
# to show it drives hull-runtime, docker.io (a private dockerd) and skopeo
# for the image format round trips.
APT_PACKAGES := busybox-static runc podman docker.io skopeo docker-registry openssl nftables iproute2 gcc

.PHONY: all setup deps demo test lint typecheck unit bench clean

all: setup

deps:
	@scripts/apt-install.sh $(APT_PACKAGES)

$(STAMP): pyproject.toml setup.py hull/linux/_sys.c hull/linux/trampoline.c
	@scripts/apt-install.sh $(APT_PACKAGES)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	$(VENV)/bin/python -m hull.launcher $(VENV)/bin >/dev/null
	touch $(STAMP)

setup: deps $(STAMP)

demo: setup
	@$(VENV)/bin/python examples/demo.py $(VENV)/bin

lint: setup
	$(VENV)/bin/ruff check hull tests
	$(VENV)/bin/ruff format --check hull tests

typecheck: setup
	$(VENV)/bin/mypy

unit: setup
	$(VENV)/bin/python -m pytest tests/unit -q

test: setup lint typecheck
	$(VENV)/bin/python -m pytest -q

bench: setup
	bench/runtime_start.sh

clean:
	rm -rf $(VENV) build *.egg-info hull/linux/*.so
