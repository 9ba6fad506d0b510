#!/usr/bin/env bash
# A local Redis Cluster of three masters on loopback ports, for the cluster variant of the Redis tests.
#   scripts/redis_cluster.sh start DIR [FIRST_PORT]   starts it on ports FIRST_PORT..+2 (without FIRST_PORT: the
#                                                     first free of 7101, 7111, ... 7391) and prints its URL
#   scripts/redis_cluster.sh stop DIR                  stops the servers started in DIR and removes DIR
set -euo pipefail
usage() { echo "usage: $0 start|stop DIR [FIRST_PORT]" >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1 dir=$2
case "$action" in
  start)
    # Concurrent test runs each start a cluster: choosing ports and starting the servers is one critical
    # section, so a second run sees the first one's ports taken (the servers do not inherit the lock's fd).
    exec 9>"${TMPDIR:-/tmp}/secapi-redis-cluster.lock"
    flock 9
    taken() { redis-cli -h 127.0.0.1 -p "$1" ping >/dev/null 2>&1; }
    if [ $# -ge 3 ]; then
      first=$3
      for port in "$first" "$((first + 1))" "$((first + 2))"; do
        if taken "$port"; then echo "port $port is taken: pass another FIRST_PORT" >&2; exit 1; fi
      done
    else
      first=""
      for candidate in $(seq 7101 10 7391); do
        if ! taken "$candidate" && ! taken "$((candidate + 1))" && ! taken "$((candidate + 2))"; then
          first=$candidate; break
        fi
      done
      [ -n "$first" ] || { echo "no three free ports from 7101 to 7393" >&2; exit 1; }
    fi
    ports=("$first" "$((first + 1))" "$((first + 2))")
    mkdir -p "$dir"
    for port in "${ports[@]}"; do
      redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes --cluster-config-file "nodes-$port.conf" \
        --save "" --appendonly no --daemonize yes --dir "$dir" --logfile "$dir/redis-$port.log" \
        --pidfile "$dir/redis-$port.pid" 9>&-
      echo "$port" >>"$dir/ports"
    done
    for port in "${ports[@]}"; do
      for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    done
    redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >"$dir/create.log"
    for _ in $(seq 1 100); do
      ok=1
      for port in "${ports[@]}"; do
        redis-cli -h 127.0.0.1 -p "$port" cluster info | grep -q '^cluster_state:ok' || ok=0
      done
      [ "$ok" = 1 ] && break
      sleep 0.1
    done
    [ "$ok" = 1 ] || { echo "the cluster in $dir did not reach cluster_state:ok" >&2; exit 1; }
    echo "redis://127.0.0.1:${ports[0]}"
    ;;
  stop)
    if [ -f "$dir/ports" ]; then
      while read -r port; do
        redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
      done <"$dir/ports"
    fi
    rm -rf "$dir"
    ;;
  *) usage ;;
esac
