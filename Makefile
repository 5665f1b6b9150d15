# The two commands: `make dev` runs the server locally, `make test` runs the whole suite.
# Each sets itself up (virtualenv, packages, emulators) and stops what it started.
# `make` alone lists the targets (`make help`). Each target checks the tools it needs
# (scripts/preflight.sh) before installing anything.
.PHONY: help dev test test-fast lint format bench soak lock settings-doc
.DEFAULT_GOAL := help

help: ## list the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z_-]+:.*## / { printf "  make %-13s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# The local function's port: make dev PORT=8081 when 8080 is taken.
PORT ?= 8080
dev: ## run the server locally: Firestore emulator, a seeded user, JWT and API keys, client config (PORT)
	@scripts/preflight.sh dev
	@scripts/bootstrap.sh runtime
	@.venv/bin/mcp-auth dev --port $(PORT)

test: ## lint, then the whole test suite (emulators, servers, Node and Terraform tools included)
	@scripts/preflight.sh test
	@scripts/bootstrap.sh
	@scripts/test.sh

# The inner loop: the tests that start no servers of their own (the `services` marker,
# tests/_fixtures/selection.py), in one process; measured on two busy cores: 910 tests in 69 s.
test-fast: ## lint, then the in-process tests only (about a minute; the whole suite is make test)
	@scripts/preflight.sh fast
	@scripts/bootstrap.sh
	@scripts/test.sh -q -m "not services"

lint: ## ruff, ruff format --check and mypy
	@scripts/bootstrap.sh
	@.venv/bin/ruff check lib functions tests bench scripts
	@.venv/bin/ruff format --check lib functions tests bench scripts
	@.venv/bin/mypy

format: ## ruff format and ruff check --fix
	@scripts/bootstrap.sh
	@.venv/bin/ruff format lib functions tests bench scripts
	@.venv/bin/ruff check --fix lib functions tests bench scripts

# docs/settings.md from the declarations in lib/mcp_auth/config.py (a test fails when it is out of date).
settings-doc: ## regenerate docs/settings.md
	@scripts/bootstrap.sh
	@.venv/bin/python -c 'from mcp_auth.config import settings_markdown; print(settings_markdown(), end="")' > docs/settings.md

# requirements/*.txt, every environment's hash-locked packages, from both pyproject files and requirements/*.in (scripts/lock.py).
lock: ## regenerate the hash-locked requirements
	@scripts/bootstrap.sh
	@.venv/bin/python scripts/lock.py

# The load generator is wrk: scripts/bench_setup.sh installs it when missing (apt-get), or says how.
bench: ## benchmarks against the bare MCP SDK (about eight minutes; BENCH_ARGS for more)
	@scripts/bench_setup.sh
	@scripts/bootstrap.sh && .venv/bin/python -m bench --json bench/results.json $(BENCH_ARGS)

# Long load and soak: two instances behind a round-robin proxy for SOAK_SECONDS (default 600), SOAK_USERS users.
SOAK_SECONDS ?= 600
SOAK_USERS ?= 16
soak: ## long load and soak (SOAK_SECONDS, SOAK_USERS)
	@scripts/bootstrap.sh
	@HARDENING_LOAD_SECONDS=$(SOAK_SECONDS) HARDENING_LOAD_USERS=$(SOAK_USERS) .venv/bin/python -m pytest \
		tests/hardening/test_load_soak.py -q -s -o timeout=$$(( $(SOAK_SECONDS) + 300 ))
