#!/usr/bin/env bash
# Starts, stops and describes a local Redis Cluster of Debian's redis-server for USwap's far-memory
# tier (RedisTier): its tests, its benchmarks and people trying it.
#
#   scripts/redis-cluster.sh start N_MASTERS [--replicas R] [--base-port P] [--dir DIR]
#                                [--node-timeout MS] [--maxmemory BYTES] [--netns] [--delay MS]
#                                [--owner PID]
#   scripts/redis-cluster.sh stop   [--base-port P | --dir DIR]
#   scripts/redis-cluster.sh status [--base-port P | --dir DIR]
#
# start  runs N_MASTERS * (1 + R) nodes (R replicas per master, default 1) on ports P, P+1, ...
#        (default 7100; the cluster bus uses port + 10000), makes them one cluster, and waits until
#        every node reports cluster_state:ok and every replica is in sync. Each node: noeviction,
#        no AOF, no RDB snapshots, cluster-node-timeout MS (default 2000, short for tests), its
#        files in DIR/PORT (DIR defaults to /tmp/uswap-redis-cluster-P). It refuses ports that are
#        in use: it never touches a redis-server it did not start (6379 stays the system's).
#        --netns puts each node in a network namespace of its own, joined by a bridge (addresses
#        in 10.213.X.0/24, reachable from this host); --delay MS adds MS of netem delay to every
#        packet a node sends (so MS to each round trip with this host). --owner PID stops the
#        cluster by itself once process PID is gone (a test runner that crashed).
#        Prints the seed list (redis://HOST:PORT,...) on its last line.
# stop   stops every node this script started in DIR (SIGCONT first: a test may have stopped
#        one), removes the namespaces and the bridge, and deletes DIR. Safe to run twice.
# status prints one line per node (node host= port= pid= role= state=) and the seed list.
set -eEuo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

die() { echo "redis-cluster.sh: $1" >&2; exit "${2:-1}"; }
usage() { sed -n '5,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

command=${1:-}; [ -n "$command" ] || usage; shift
masters=""
if [ "$command" = start ]; then
  masters=${1:-}; [[ "$masters" =~ ^[0-9]+$ ]] && [ "$masters" -ge 1 ] || die "start needs N_MASTERS (1 or more)" 2
  shift
fi
replicas=1; base=7100; dir=""; node_timeout=2000; maxmemory=1073741824; netns=0; delay=0; owner=""
while [ $# -gt 0 ]; do
  case "$1" in
    --replicas) replicas=$2; shift 2 ;;
    --base-port) base=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --node-timeout) node_timeout=$2; shift 2 ;;
    --maxmemory) maxmemory=$2; shift 2 ;;
    --netns) netns=1; shift ;;
    --delay) delay=$2; shift 2 ;;
    --owner) owner=$2; shift 2 ;;
    *) die "unknown option $1" 2 ;;
  esac
done
for n in "$replicas" "$base" "$node_timeout" "$maxmemory" "$delay"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "'$n' is not a whole number" 2
done
[ -n "$dir" ] || dir=/tmp/uswap-redis-cluster-$base
[ -z "$owner" ] || [[ "$owner" =~ ^[0-9]+$ ]] || die "--owner takes a process id" 2

# The names this cluster's namespaces, links and bridge use (at most 15 characters each).
tag=urc$base
bridge=${tag}br
subnet() { echo "10.213.$(( (base / 8) % 250 ))"; }

node_ip() {  # node index -> the address it listens on
  if [ -f "$dir/netns" ]; then echo "$(subnet).$((10 + $1))"; else echo 127.0.0.1; fi
}

# The pid in DIR/PORT/redis.pid when that process is a redis-server running in DIR/PORT (its
# working directory), so a reused pid or someone else's server is never signalled.
our_pid() {
  local node_dir=$1 pid
  [ -f "$node_dir/redis.pid" ] || return 1
  pid=$(cat "$node_dir/redis.pid" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$(cd "$node_dir" && pwd -P)" ] || return 1
  grep -q redis-server "/proc/$pid/comm" 2>/dev/null || grep -q redis "/proc/$pid/comm" 2>/dev/null || return 1
  echo "$pid"
}

port_in_use() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

stop_cluster() {
  [ -d "$dir" ] || return 0
  [ -f "$dir/cluster" ] || die "$dir was not made by this script (no $dir/cluster): not touching it"
  if [ -f "$dir/watchdog.pid" ]; then
    local w; w=$(cat "$dir/watchdog.pid")
    if [[ "$w" =~ ^[0-9]+$ ]] && [ "$w" != "$$" ] && grep -q "redis-cluster" "/proc/$w/cmdline" 2>/dev/null; then
      kill "$w" 2>/dev/null || true
    fi
  fi
  local pids=() node_dir pid
  for node_dir in "$dir"/[0-9]*; do
    [ -d "$node_dir" ] || continue
    if pid=$(our_pid "$node_dir"); then
      kill -CONT "$pid" 2>/dev/null || true
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  local waited=0
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ $waited -lt 100 ]; do sleep 0.01; waited=$((waited + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  done
  if [ -f "$dir/netns" ]; then
    local ns
    while read -r ns; do ip netns del "$ns" 2>/dev/null || true; done < "$dir/netns"
    ip link del "$bridge" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

status_cluster() {
  [ -f "$dir/cluster" ] || die "no cluster in $dir (start one first)" 3
  local node_dir port host pid role state seeds=""
  for port in $(ls "$dir" | grep -E '^[0-9]+$' | sort -n); do
    node_dir="$dir/$port"; host=$(node_ip $((port - base)))
    role=unknown; state=dead; pid=0
    if pid=$(our_pid "$node_dir"); then
      if grep -q '^State:.*T' "/proc/$pid/status" 2>/dev/null; then state=stopped; role=unknown
      else
        state=running
        role=$(timeout 2 redis-cli -h "$host" -p "$port" role 2>/dev/null | head -1 || true)
        case "$role" in master) ;; slave) role=replica ;; *) role=unknown ;; esac
      fi
    else pid=0
    fi
    echo "node host=$host port=$port pid=$pid role=$role state=$state"
    seeds="$seeds${seeds:+,}$host:$port"
  done
  echo "seeds redis://$seeds"
}

wait_ok() {  # every node: cluster_state:ok, all slots, every node known; every replica in sync
  local total=$1 deadline=$((SECONDS + 60)) i host port info ok
  while :; do
    ok=1
    for ((i = 0; i < total; i++)); do
      host=$(node_ip "$i"); port=$((base + i))
      info=$(timeout 2 redis-cli -h "$host" -p "$port" cluster info 2>/dev/null || true)
      if ! grep -q 'cluster_state:ok' <<<"$info" || ! grep -q 'cluster_slots_ok:16384' <<<"$info" \
        || ! grep -q "cluster_known_nodes:$total" <<<"$info"; then ok=0; break; fi
      info=$(timeout 2 redis-cli -h "$host" -p "$port" info replication 2>/dev/null || true)
      if grep -q 'role:slave' <<<"$info" && ! grep -q 'master_link_status:up' <<<"$info"; then ok=0; break; fi
    done
    [ $ok = 1 ] && return 0
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

start_cluster() {
  command -v redis-server >/dev/null || die "redis-server is not installed: apt-get install redis-server redis-tools" 4
  command -v redis-cli >/dev/null || die "redis-cli is not installed: apt-get install redis-tools" 4
  local total=$((masters * (1 + replicas))) i port host node_dir
  [ $((base + total - 1 + 10000)) -le 65535 ] || die "ports $base.. (and their bus ports +10000) do not fit below 65536" 2
  local low high
  read -r low high < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { low=32768; high=60999; }
  if [ $((base + total - 1 + 10000)) -ge "$low" ] && [ $((base + 10000)) -le "$high" ]; then
    echo "redis-cluster.sh: warning: bus ports $((base + 10000))-$((base + total - 1 + 10000)) are in the ephemeral range $low-$high: outgoing connections may take them (a base port below $((low - 10000 - total)) avoids it)" >&2
  fi
  if [ -e "$dir" ]; then die "$dir exists: stop that cluster first (scripts/redis-cluster.sh stop --dir $dir)" 3; fi
  for ((i = 0; i < total; i++)); do
    port=$((base + i))
    if port_in_use "$port" || port_in_use $((port + 10000)); then
      die "port $port or its bus port $((port + 10000)) is in use: pick another --base-port" 3
    fi
  done
  if [ $netns = 1 ] && [ "$(id -u)" != 0 ]; then die "--netns needs root (ip netns)" 2; fi
  mkdir -p "$dir"
  echo "masters=$masters replicas=$replicas base=$base" > "$dir/cluster"
  # From here on a failure stops whatever was started.
  busy=0
  trap 'echo "redis-cluster.sh: start failed; stopping what it started" >&2; stop_cluster; [ $busy = 0 ] || exit 3' ERR
  if [ $netns = 1 ]; then
    : > "$dir/netns"
    ip link add "$bridge" type bridge
    ip addr add "$(subnet).1/24" dev "$bridge"
    ip link set "$bridge" up
  fi
  for ((i = 0; i < total; i++)); do
    port=$((base + i)); node_dir="$dir/$port"; mkdir -p "$node_dir"
    host=127.0.0.1
    if [ $netns = 1 ]; then
      local ns=${tag}n$i
      host=$(node_ip "$i")
      echo "$ns" >> "$dir/netns"
      ip netns add "$ns"
      ip link add "${tag}h$i" type veth peer name "${tag}v$i"
      ip link set "${tag}v$i" netns "$ns"
      ip link set "${tag}h$i" master "$bridge"
      ip link set "${tag}h$i" up
      ip -n "$ns" addr add "$host/24" dev "${tag}v$i"
      ip -n "$ns" link set "${tag}v$i" up
      ip -n "$ns" link set lo up
      if [ "$delay" -gt 0 ]; then
        ip netns exec "$ns" tc qdisc add dev "${tag}v$i" root netem delay "${delay}ms" \
          || { echo "tc netem is not available in this kernel (sch_netem): run without --delay" >&2; false; }
      fi
    fi
    cat > "$node_dir/redis.conf" <<EOF
port $port
bind $host
protected-mode no
daemonize yes
pidfile $node_dir/redis.pid
logfile $node_dir/redis.log
dir $node_dir
cluster-enabled yes
cluster-config-file $node_dir/nodes.conf
cluster-node-timeout $node_timeout
cluster-replica-validity-factor 0
cluster-allow-replica-migration no
appendonly no
save ""
maxmemory $maxmemory
maxmemory-policy noeviction
repl-diskless-sync yes
repl-diskless-sync-delay 0
shutdown-on-sigterm nosave now
shutdown-timeout 0
EOF
    if [ $netns = 1 ]; then
      ip netns exec "${tag}n$i" redis-server "$node_dir/redis.conf"
    else
      redis-server "$node_dir/redis.conf"
    fi
  done
  # Wait for every node to answer.
  for ((i = 0; i < total; i++)); do
    host=$(node_ip "$i"); port=$((base + i))
    local tries=0
    until timeout 2 redis-cli -h "$host" -p "$port" ping 2>/dev/null | grep -q PONG; do
      tries=$((tries + 1))
      if grep -q "Address already in use" "$dir/$port/redis.log" 2>/dev/null; then
        # Taken since the check above (often by another program's outgoing connection).
        echo "node $port: its port or bus port $((port + 10000)) is in use: pick another --base-port" >&2
        busy=1; false
      fi
      [ $tries -lt 100 ] || { echo "node $port did not start:" >&2; tail -5 "$dir/$port/redis.log" >&2; false; }
      sleep 0.1
    done
  done
  # Make the cluster by hand (redis-cli --cluster create wants 3 masters or more): masters
  # 0..N-1 take equal slot ranges and distinct config epochs, every node meets node 0, and
  # replica r of master i is node N + r * N + i.
  local first=$(node_ip 0) start_slot end_slot ids=()
  for ((i = 0; i < masters; i++)); do
    host=$(node_ip "$i"); port=$((base + i))
    start_slot=$((i * 16384 / masters)); end_slot=$(((i + 1) * 16384 / masters - 1))
    redis-cli -h "$host" -p "$port" cluster addslotsrange "$start_slot" "$end_slot" | grep -q OK
    redis-cli -h "$host" -p "$port" cluster set-config-epoch $((i + 1)) | grep -q OK
  done
  for ((i = 0; i < total; i++)); do
    host=$(node_ip "$i"); port=$((base + i))
    ids+=("$(redis-cli -h "$host" -p "$port" cluster myid)")
    if [ "$i" -gt 0 ]; then redis-cli -h "$host" -p "$port" cluster meet "$first" "$base" | grep -q OK; fi
  done
  local deadline=$((SECONDS + 30))
  for ((i = masters; i < total; i++)); do
    host=$(node_ip "$i"); port=$((base + i))
    # A replica can follow its master only once it knows it.
    until redis-cli -h "$host" -p "$port" cluster replicate "${ids[$(((i - masters) % masters))]}" 2>/dev/null | grep -q OK; do
      [ $SECONDS -lt $deadline ] || { echo "node $port could not become a replica" >&2; false; }
      sleep 0.1
    done
  done
  wait_ok "$total" || { echo "the cluster did not reach cluster_state:ok with its replicas in sync within 60 s" >&2; false; }
  trap - ERR
  if [ -n "$owner" ]; then
    # Stops the cluster once the owner is gone, whatever way it ended.
    setsid bash -c 'echo $$ > "$3/watchdog.pid"; while kill -0 "$1" 2>/dev/null && [ -d "$3" ]; do sleep 1; done
      [ -d "$3" ] && exec "$2" stop --dir "$3" --base-port "$4"' redis-cluster-watchdog "$owner" "$self" "$dir" "$base" \
      < /dev/null > /dev/null 2>&1 &
  fi
  local seeds=""
  for ((i = 0; i < total; i++)); do seeds="$seeds${seeds:+,}$(node_ip "$i"):$((base + i))"; done
  echo "seeds redis://$seeds"
}

case "$command" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  status) status_cluster ;;
  *) usage ;;
esac
