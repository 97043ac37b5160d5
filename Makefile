# Front door. `make run` and `make test` each set up .venv first (a no-op when the lock
# is unchanged), so both work on a fresh machine.
#
#   make run                          the whole pipeline (fetches the RRR data)
#   make run MIRROR=../shared/data    offline: the RRR file from a local mirror
#   make run PRESET=quick             a named settings block from config/config.yaml
#   make run ARGS="reports/rrr.html"  any further Snakemake arguments or targets
#   make test                         the test suite (what CI runs)
#   make benchmark                    speed and memory on this machine (15 to 20 min)

SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
PROFILE ?= workflow/profiles/default
CORES ?= all
ARGS ?=

CONFIG :=
ifdef MIRROR
CONFIG += mirror=$(MIRROR)
endif
ifdef PRESET
CONFIG += preset=$(PRESET)
endif
CONFIG_ARGS := $(if $(strip $(CONFIG)),--config $(strip $(CONFIG)))

.PHONY: setup setup-test run test benchmark lint format clean

setup:
	workflow/bin/setup-venv

# The Debian packages the tests need (Chromium; SLURM and munge), via apt-get.
setup-test: setup
	workflow/bin/setup-test-system

# An interrupted run (kill -9, power cut) is finished by running the same command again.
run: setup
	workflow/bin/run-pipeline --workflow-profile $(PROFILE) --cores $(CORES) $(ARGS) $(CONFIG_ARGS)

test: setup-test
	$(PYTHON) -m pytest $(PYTEST_ARGS)

# Speed and memory on this machine (not part of the tests): results/benchmarks/.
benchmark: setup
	$(PYTHON) tests/benchmarks/benchmark.py $(if $(MIRROR),--mirror $(MIRROR))

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules
	$(SNAKEMAKE) --lint --workflow-profile none

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/snakefmt Snakefile workflow/rules

# Remove every output (not the compile cache, which only makes reruns faster).
clean:
	rm -rf data/raw data/processed logs
	find results reports -mindepth 1 ! -name README.md -delete
