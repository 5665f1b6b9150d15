# The two commands: `make dev` runs the server locally, `make test` runs the whole suite.
# Each sets itself up (virtualenv, packages, emulators) and stops what it started.
.PHONY: dev test lint bench

dev:
	@scripts/bootstrap.sh
	@.venv/bin/mcp-auth dev

test:
	@scripts/bootstrap.sh
	@scripts/test.sh

lint:
	@scripts/bootstrap.sh
	@.venv/bin/ruff check lib functions tests

bench:
	@scripts/bootstrap.sh && .venv/bin/python -m bench $(BENCH_ARGS)
