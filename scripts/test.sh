#!/usr/bin/env bash
# The whole check: lint, format, types, layering contract, unit and integration tests.
#
# Integration tests need PostgreSQL and Redis. They use SECAPI_TEST_DATABASE_URL and
# SECAPI_TEST_REDIS_URL when set; otherwise, if servers answer on this machine's default
# ports (as on this project's machines), those; otherwise testcontainers (needs Docker).
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-$(sh scripts/ensure-uv.sh)}"

"$UV" sync --frozen --quiet

if [ -z "${SECAPI_TEST_DATABASE_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 \
  && pg_isready -q -h 127.0.0.1 -p 5432; then
  export SECAPI_TEST_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/secapi_test"
fi
if [ -z "${SECAPI_TEST_REDIS_URL:-}" ] && command -v redis-cli >/dev/null 2>&1 \
  && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; then
  export SECAPI_TEST_REDIS_URL="redis://127.0.0.1:6379/15"
fi

echo "== ruff";          "$UV" run --frozen ruff check src tests
echo "== ruff format";   "$UV" run --frozen ruff format --check src tests
echo "== mypy";          "$UV" run --frozen mypy
echo "== import-linter"; "$UV" run --frozen lint-imports
echo "== pytest";        "$UV" run --frozen pytest "$@"
