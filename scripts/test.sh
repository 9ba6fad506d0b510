#!/usr/bin/env bash
# The whole check: lint, format, types, layering contract, unit and integration tests.
#
# Integration tests need PostgreSQL and Redis. They use SECAPI_TEST_DATABASE_URL and
# SECAPI_TEST_REDIS_URL when set; otherwise, if servers answer on this machine's default
# ports (as on this project's machines), those; otherwise testcontainers (needs Docker).
#
# The Redis tests also run on the Redis Cluster named by SECAPI_TEST_REDIS_CLUSTER_URL; unset, and with
# redis-server installed, this script starts a private three-master cluster (scripts/redis_cluster.sh).
#
# On the local servers every run gets its own database (secapi_test_<pid>, dropped at exit)
# and its own Redis database number (claimed with a lock key in Redis db 0, released at exit),
# so two `make test` runs on one machine do not wipe each other's data.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-$(sh scripts/ensure-uv.sh)}"

"$UV" sync --frozen --quiet

RUN_ID="$$"
OWN_DATABASE=""
OWN_REDIS_DB=""
cleanup() {
  if [ -n "$OWN_DATABASE" ]; then
    "$UV" run --frozen python scripts/test_database.py drop "$SECAPI_TEST_DATABASE_URL" || true
  fi
  if [ -n "$OWN_REDIS_DB" ]; then
    redis-cli -h 127.0.0.1 -p 6379 -n "$OWN_REDIS_DB" flushdb >/dev/null 2>&1 || true
    # Release the claim only if it is still ours.
    redis-cli -h 127.0.0.1 -p 6379 -n 0 eval \
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0" \
      1 "secapi:test-run:redis-db:$OWN_REDIS_DB" "$RUN_ID" >/dev/null 2>&1 || true
  fi
}
OWN_CLUSTER=""
stop_cluster() { [ -z "$OWN_CLUSTER" ] || scripts/redis_cluster.sh stop "$OWN_CLUSTER" || true; }
trap 'cleanup; stop_cluster' EXIT

if [ -z "${SECAPI_TEST_DATABASE_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 \
  && pg_isready -q -h 127.0.0.1 -p 5432; then
  export SECAPI_TEST_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/secapi_test_${RUN_ID}"
  OWN_DATABASE=1
fi
if [ -z "${SECAPI_TEST_REDIS_URL:-}" ] && command -v redis-cli >/dev/null 2>&1 \
  && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; then
  # Databases 1-15 (0 holds the claims); a claim expires after 3 h should a run die without its trap.
  for number in $(seq 15 -1 1); do
    if [ "$(redis-cli -h 127.0.0.1 -p 6379 -n 0 set "secapi:test-run:redis-db:$number" "$RUN_ID" NX EX 10800)" = "OK" ]; then
      OWN_REDIS_DB="$number"
      break
    fi
  done
  if [ -z "$OWN_REDIS_DB" ]; then
    echo "every Redis database 1-15 on 127.0.0.1:6379 is claimed by another test run; set SECAPI_TEST_REDIS_URL" >&2
    exit 1
  fi
  export SECAPI_TEST_REDIS_URL="redis://127.0.0.1:6379/${OWN_REDIS_DB}"
fi
if [ -z "${SECAPI_TEST_REDIS_CLUSTER_URL:-}" ] && command -v redis-server >/dev/null 2>&1; then
  # A private 3-master cluster for the cluster variant of the Redis tests, on the first free ports from 7101.
  OWN_CLUSTER="$(mktemp -d -t secapi-redis-cluster.XXXXXX)"
  SECAPI_TEST_REDIS_CLUSTER_URL="$(scripts/redis_cluster.sh start "$OWN_CLUSTER")"
  export SECAPI_TEST_REDIS_CLUSTER_URL
fi
echo "== test services: ${SECAPI_TEST_DATABASE_URL:-testcontainers} ${SECAPI_TEST_REDIS_URL:-testcontainers}" \
  "${SECAPI_TEST_REDIS_CLUSTER_URL:-no Redis Cluster (its tests skip)}"

echo "== ruff";          "$UV" run --frozen ruff check src tests
echo "== ruff format";   "$UV" run --frozen ruff format --check src tests
echo "== mypy";          "$UV" run --frozen mypy
echo "== import-linter"; "$UV" run --frozen lint-imports
echo "== pytest";        "$UV" run --frozen pytest "$@"
