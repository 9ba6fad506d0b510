#!/usr/bin/env bash
# Compare ASGI servers for SecAPI: uvicorn (httptools + uvloop) vs granian, one worker each,
# on /health/live and on an authenticated list of scans (embedded SQLite), with wrk.
# Usage: benchmarks/asgi_servers.sh [duration-seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
export SECAPI_DATABASE_URL="sqlite+aiosqlite:///./var/bench-asgi.db"
rm -f var/bench-asgi.db*
uv run --frozen secapi db upgrade >/dev/null
KEY=$(uv run --frozen secapi users create --email bench@example.com --tier business --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
PORT=18931

run() {
  local name="$1"; shift
  "$@" >/tmp/secapi-bench-$name.log 2>&1 &
  local pid=$!
  for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.2; done
  for path in /health/live /api/v1/scans; do
    out=$(wrk -t2 -c64 -d"${DURATION}s" --latency -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT$path")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '/ 99%/ {print $2}')
    printf '| %-8s | %-15s | %10s | %8s |\n' "$name" "$path" "$rps" "$p99"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "| server   | path            |    req/s   |   p99    |"
echo "|----------|-----------------|------------|----------|"
run uvicorn uv run --frozen --with "uvicorn[standard]" uvicorn --factory secapi.entrypoints.http.app:app_from_env \
  --host 127.0.0.1 --port $PORT --workers 1 --log-level warning --no-access-log
run granian uv run --frozen granian --interface asgi --factory \
  --host 127.0.0.1 --port $PORT --workers 1 --log-level warning secapi.entrypoints.http.app:app_from_env
