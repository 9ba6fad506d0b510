# SecAPI — the two commands of the quickstart are `make run` and `make test`.
UV := $(shell sh scripts/ensure-uv.sh)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint types migrate serve bench-load load clean

run: install  ## Serve the demo on the embedded default (SQLite, in-memory), with a demo key
	$(UV) run --frozen secapi demo --host $(HOST) --port $(PORT)

test:  ## Lint, types, layering contract, unit and integration tests
	UV=$(UV) bash scripts/test.sh

install:
	$(UV) sync --frozen

lint:
	$(UV) run --frozen ruff check src tests && $(UV) run --frozen ruff format --check src tests

types:
	$(UV) run --frozen mypy && $(UV) run --frozen lint-imports

migrate:  ## Apply migrations to SECAPI_DATABASE_URL
	$(UV) run --frozen secapi db upgrade

serve: migrate  ## Serve against SECAPI_DATABASE_URL / SECAPI_REDIS_URL
	$(UV) run --frozen secapi serve --host $(HOST) --port $(PORT) --workers $${WORKERS:-2}

load: install  ## Production-shaped load test (HAProxy, 2 API instances, 2 workers): LOAD_ARGS="--redis cluster --soak"
	$(UV) run --frozen python tests/load/production.py $(LOAD_ARGS)

clean:
	rm -rf var .venv .mypy_cache .ruff_cache .pytest_cache
