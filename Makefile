# Front door. Every target sets up .venv first (a no-op when the lock is unchanged), so
# each works on a fresh machine.
#
#   make run                          the whole pipeline (fetches the RRR data)
#   make run MIRROR=../shared/data    offline: the RRR file from a local mirror
#   make run CONFIG=my.yaml           with a config file of your own (README: "Your own study")
#   make run PRESET=quick             a named settings block from config/config.yaml
#   make run ARGS="reports/rrr.html"  any further Snakemake arguments or targets
#   make new-dataset FILE=data.sav NAME=mystudy   write config/mystudy.yaml for a file
#   make sbc                          simulation-based calibration (about 20 replicates per rung)
#   make test                         the whole test suite (what CI runs)
#   make test-quick                   the quick tier: under 3 minutes, while developing
#   make benchmark                    speed and memory on this machine
#   make lint                         ruff, snakefmt and snakemake --lint
#   make format                       apply ruff and snakefmt
#   make clean                        remove every output (not the compile cache)
#   make setup                        the Python environment (.venv) from the lock file
#   make setup-test                   that, and the Debian packages the tests need (apt-get)
#   make help                         this list

SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
PROFILE ?= workflow/profiles/default
CORES ?= all
ARGS ?=
CONFIG ?=

PAIRS :=
ifdef MIRROR
PAIRS += mirror=$(MIRROR)
endif
ifdef PRESET
PAIRS += preset=$(PRESET)
endif
PAIR_ARGS := $(if $(strip $(PAIRS)),--config $(strip $(PAIRS)))
# --configfile and --config take several words: they come after any target in ARGS.
CONFIG_FILE := $(if $(CONFIG),--configfile $(CONFIG))
# The test command: the slowest tests named at the end, in WORKERS pytest-xdist processes
# (WORKERS=0: one process). The whole suite takes three on two cores: the SLURM tests mostly
# wait for the plugin's status checks, and the other two workers use the cores meanwhile.
# The quick tier only computes, so it takes two: a third compiled the same code twice at
# once (measured on a cold cache: 317 CPU-s and 165 s, against 257 CPU-s and 143 s). Tests
# on one shared run (the smoke pipeline, the SLURM cluster) stay on one worker
# (tests/tiers.py).
test: WORKERS ?= 3
test-quick: WORKERS ?= 2
PYTEST = $(PYTHON) -m pytest --durations=15 -n $(WORKERS) --dist loadgroup

.PHONY: help setup setup-test run sbc new-dataset test test-quick benchmark lint format clean

# The list at the top of this file, one line a target.
help:
	@sed -n 's/^#   make /make /p' $(firstword $(MAKEFILE_LIST))

setup:
	workflow/bin/setup-venv

# The Debian packages the tests need (Chromium; SLURM and munge), via apt-get, installed
# while the venv is set up: neither needs the other.
setup-test:
	workflow/bin/setup-test-system & system=$$!; \
	workflow/bin/setup-venv; venv=$$?; \
	wait $$system; system=$$?; \
	exit $$(( venv || system ))

# An interrupted run (kill -9, power cut) is finished by running the same command again.
run: setup
	workflow/bin/run-pipeline --workflow-profile $(PROFILE) --cores $(CORES) $(ARGS) $(CONFIG_FILE) $(PAIR_ARGS)

# Simulation-based calibration of the rungs in the config's `sbc` (a Snakemake target,
# so PROFILE=workflow/profiles/slurm and PRESET=sbc compose with it).
sbc: setup
	workflow/bin/run-pipeline --workflow-profile $(PROFILE) --cores $(CORES) sbc_all $(ARGS) $(CONFIG_FILE) $(PAIR_ARGS)

new-dataset: setup
	@test -n "$(FILE)" -a -n "$(NAME)" || { echo "usage: make new-dataset FILE=path NAME=name [NEW_ARGS='--treatment T --site S']"; exit 2; }
	$(VENV)/bin/ladder-new-dataset "$(FILE)" "$(NAME)" $(NEW_ARGS)

# The whole suite builds the tests' shared smoke pipeline first, alone, on an empty compile
# cache of its own, which every later test compiles into (tests/build_pipeline.py says
# why); a selection builds it only if a selected test needs it.
TEST_PIPELINE := $(CURDIR)/.cache/test-pipeline
test: setup-test
	set -e; if [ -z "$(PYTEST_ARGS)" ]; then \
		rm -rf $(TEST_PIPELINE); \
		export LADDER_TEST_PIPELINE=$(TEST_PIPELINE); \
		$(PYTHON) tests/build_pipeline.py; \
	fi; \
	$(PYTEST) $(PYTEST_ARGS)

# No Snakemake run, no sampling above the smoke preset (tests/tiers.py).
test-quick: setup
	$(PYTEST) -m quick $(PYTEST_ARGS)

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
	rm -rf data/raw data/processed data/new logs
	find results reports -mindepth 1 ! -name README.md -delete
