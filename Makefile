# chaton-toolkit: `make demo` deploys the example collective into a local container,
# `make test` runs the whole test suite. Both install what they need on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONSTRAINTS := requirements/constraints.txt
# ACCELERATOR=off runs Ansible on its standard (linear) strategy instead of Mitogen's.
ACCELERATOR ?= on
# Tests run in this many pytest-xdist workers (two test hosts at once on a 2-core machine);
# JOBS=0 runs them in one process.
JOBS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(JOBS) --dist worksteal --durations=30
# The project's copies of real Nextcloud releases (verified by Nextcloud's code signing when they
# enter the artifact cache), and the releases the tests and the demo run from them.
NEXTCLOUD_RELEASES_DIR ?= $(CURDIR)/../shared/artifacts/nextcloud
NEXTCLOUD_RELEASES := 30.0.1 31.0.11
# The gettext catalogues (chaton/i18n.py): the template Babel extracts from the code and the cost
# sheets' templates (babel.cfg), and each language's translations. tests/test_i18n.py extracts
# with these options to check that the template is up to date.
LOCALE := chaton/locale
POT := $(LOCALE)/chaton.pot
PO := $(wildcard $(LOCALE)/*/LC_MESSAGES/chaton.po)
EXTRACT_OPTIONS := -F babel.cfg --add-location=file --sort-output --project=chaton-toolkit \
  --header-comment="\# The messages of chaton-toolkit to translate, made by make messages." \
  -c TRANSLATORS:

export PATH := $(BIN):$(PATH)
export CONTAINERS_CONF := $(CURDIR)/.config/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
ifeq ($(ACCELERATOR),off)
export ANSIBLE_STRATEGY := linear
endif

.PHONY: help host-packages venv image releases messages lint unit molecule test suite test-site demo demo-clean constraints clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

host-packages: ## Install the Debian packages the toolkit needs (podman, runc, debootstrap…)
	@scripts/host-packages

$(STAMP): pyproject.toml $(CONSTRAINTS) | host-packages
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e '.[dev]'
	@touch $@

venv: $(STAMP) ## Create the virtualenv with the pinned Python packages

image: venv ## Build the Debian 12 systemd base image (once)
	@$(BIN)/chaton container image

releases: venv ## Put the project's copies of real Nextcloud releases in the artifact cache, verified
	@scripts/shared-releases $(BIN)/chaton "$(NEXTCLOUD_RELEASES_DIR)" $(NEXTCLOUD_RELEASES)

messages: venv ## Re-extract the messages to translate (chaton/locale/chaton.pot), update the .po files
	$(BIN)/pybabel -q extract $(EXTRACT_OPTIONS) -o $(POT) .
	$(BIN)/pybabel -q update -i $(POT) -d $(LOCALE) -D chaton --ignore-obsolete

lint: venv ## ansible-lint (production profile), yamllint, ruff, mypy, the package's layers (lint-imports), msgfmt --check
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy --strict --scripts-are-modules roles/backup/files/chaton-backup
	$(BIN)/mypy --strict --scripts-are-modules roles/backup/files/chaton-backup-repository
	@for po in $(PO); do echo "msgfmt --check $$po"; msgfmt --check -o /dev/null $$po || exit 1; done

unit: venv ## Python tests that need no container
	$(PYTEST) -m 'not container'

molecule: image releases ## Every role's molecule scenario, idempotence judged from Ansible's stats
	$(PYTEST) -m 'container and not site' tests/test_roles_molecule.py

test: image ## The test suite: lint, Python tests, every role's scenario (under 40 minutes)
	@# The linters run beside the suite: its scenarios spend much of their time waiting.
	@$(MAKE) --no-print-directory -j2 lint suite

suite: venv releases
	$(PYTEST) -m 'not site'

test-site: image releases ## The long suite: the whole example collective, a collective's life, the restore drill (60-80 minutes)
	$(PYTEST) -m site

demo: image releases ## Deploy the example collective into a local container and verify it
	$(BIN)/chaton demo

demo-clean: venv ## Remove the demo container and what the demo made
	$(BIN)/chaton demo --clean

constraints: ## Re-pin the Python packages from the current virtualenv
	$(BIN)/python -m pip freeze --all --exclude-editable | grep -v -e '^pip==' -e '^setuptools==' \
	  | { echo "# Pinned versions of every Python package the toolkit installs (Python 3.11)."; \
	      echo "# Regenerate with: make constraints"; cat; } > $(CONSTRAINTS)

clean: ## Remove the virtualenv and caches (not the image)
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
