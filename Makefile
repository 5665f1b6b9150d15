# The two commands: `make dev` runs the server locally, `make test` runs the whole suite.
# Each sets itself up (virtualenv, packages, emulators) and stops what it started.
.PHONY: dev test lint format bench soak lock settings-doc

dev:
	@scripts/bootstrap.sh
	@.venv/bin/mcp-auth dev

test:
	@scripts/bootstrap.sh
	@scripts/test.sh

lint:
	@scripts/bootstrap.sh
	@.venv/bin/ruff check lib functions tests bench scripts
	@.venv/bin/ruff format --check lib functions tests bench scripts
	@.venv/bin/mypy

format:
	@scripts/bootstrap.sh
	@.venv/bin/ruff format lib functions tests bench scripts
	@.venv/bin/ruff check --fix lib functions tests bench scripts

# docs/settings.md from the declarations in lib/mcp_auth/config.py (a test fails when it is out of date).
settings-doc:
	@scripts/bootstrap.sh
	@.venv/bin/python -c 'from mcp_auth.config import settings_markdown; print(settings_markdown(), end="")' > docs/settings.md

# requirements/dev.txt, the hash-locked packages the test build installs, regenerated from pyproject.toml.
lock:
	@scripts/bootstrap.sh
	@.venv/bin/python scripts/lock.py

bench:
	@scripts/bootstrap.sh && .venv/bin/python -m bench --json bench/results.json $(BENCH_ARGS)

# Long load and soak: two instances behind a round-robin proxy for SOAK_SECONDS (default 600), SOAK_USERS users.
SOAK_SECONDS ?= 600
SOAK_USERS ?= 16
soak:
	@scripts/bootstrap.sh
	@HARDENING_LOAD_SECONDS=$(SOAK_SECONDS) HARDENING_LOAD_USERS=$(SOAK_USERS) .venv/bin/python -m pytest \
		tests/hardening/test_load_soak.py -q -s -o timeout=$$(( $(SOAK_SECONDS) + 300 ))
