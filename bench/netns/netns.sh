#!/usr/bin/env bash
# Real emulated links between MPC parties: one network namespace per party, joined through a tun device in
# each namespace and a user-space delay line (delayline.c), with an HTB class per peer on every tun device
# for the bandwidth. Addresses are 10.231.0.11, .12, ... inside the namespaces only; no namespace has a
# route to anything but its peers, and nothing is added to the host's own network namespace.
#
# Why not `tc qdisc ... netem delay X rate Y`: this kernel is built without sch_netem (and without fq/etf),
# which `probe` reports. HTB, TBF, tun and network namespaces are present, so the rate is shaped by the
# kernel (HTB, per directed pair) and the delay is added by delayline.c after the shaper.
#
# Usage (root):
#   netns.sh probe                                   checks what this sandbox allows; exit 0 if `up` can work
#   netns.sh up TAG RATE_BITS MTU PARTY...           creates namespaces secp<TAG>-<PARTY> (no delay line);
#                                                    RATE_BITS 0: no shaping (the transport's own floor)
#   netns.sh down TAG                                removes every namespace secp<TAG>-* (idempotent)
#   netns.sh down-all                                removes every namespace this script ever makes (after a kill -9)
#   netns.sh delayline                               compiles delayline.c (if needed), prints its path
#   netns.sh ports TAG PARTY...                      prints the delay line's arguments for those parties
#   netns.sh run TAG RATE_BITS DELAY_US MTU PARTY... -- CMD...
#                                                    up + delay line + CMD (in the host namespace; use
#                                                    `ip netns exec secp<TAG>-<PARTY>` inside it) + down,
#                                                    with a trap that cleans up on any exit
# The addresses: party number i (0-based, in the order given) is 10.231.0.$((11 + i)).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEV=secp0
NET=10.231.0

ns_name() { echo "secp$1-$2"; }

die() { echo "netns.sh: $*" >&2; exit 2; }

cache_dir() {
  # The repository's ignored .cache/ (two levels above bench/netns, also from dist/bench/netns).
  local root
  root="$(cd "$HERE/../.." && pwd)"
  [ -f "$root/package.json" ] || root="$(cd "$HERE/../../.." && pwd)"
  echo "$root/.cache/netns"
}

src_file() {
  if [ -f "$HERE/delayline.c" ]; then echo "$HERE/delayline.c"; else echo "$(cd "$HERE/../../.." && pwd)/bench/netns/delayline.c"; fi
}

build_delayline() {
  local src out dir
  src="$(src_file)"
  [ -f "$src" ] || die "delayline.c not found next to $0"
  dir="$(cache_dir)"
  out="$dir/delayline"
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
    command -v cc >/dev/null 2>&1 || die "no C compiler (cc) to build delayline.c"
    mkdir -p "$dir"
    cc -O2 -Wall -Wextra -o "$out.tmp" "$src" && mv "$out.tmp" "$out"
  fi
  echo "$out"
}

probe() {
  [ "$(id -u)" = 0 ] || die "not root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)"
  command -v ip >/dev/null 2>&1 || die "iproute2 'ip' not found"
  command -v tc >/dev/null 2>&1 || die "iproute2 'tc' not found"
  [ -c /dev/net/tun ] || die "/dev/net/tun missing"
  local tag="probe$$" ok=0 why=""
  cleanup_probe() { down "$tag" >/dev/null 2>&1 || true; }
  trap cleanup_probe RETURN
  if ! ip netns add "$(ns_name "$tag" a)" 2>/tmp/secp-probe.err; then why="ip netns add failed: $(cat /tmp/secp-probe.err)"; fi
  if [ -z "$why" ] && ! ip -n "$(ns_name "$tag" a)" tuntap add dev "$DEV" mode tun 2>/tmp/secp-probe.err; then why="ip tuntap add failed: $(cat /tmp/secp-probe.err)"; fi
  if [ -z "$why" ] && ! tc -n "$(ns_name "$tag" a)" qdisc add dev "$DEV" root handle 1: htb default 99 2>/tmp/secp-probe.err; then why="tc htb qdisc failed: $(cat /tmp/secp-probe.err)"; fi
  if [ -z "$why" ]; then
    if tc -n "$(ns_name "$tag" a)" qdisc add dev lo root netem delay 1ms 2>/dev/null; then
      echo "netem: available (not used: the delay line keeps one code path)"
    else
      echo "netem: not available (kernel without sch_netem); delay comes from delayline.c"
    fi
  fi
  rm -f /tmp/secp-probe.err
  [ -z "$why" ] || die "$why"
  build_delayline >/dev/null || die "cannot build delayline.c"
  ok=1
  [ "$ok" = 1 ] && echo "ok"
}

up() {
  local tag="$1" rate="$2" mtu="$3"
  shift 3
  [ $# -ge 2 ] || die "up needs at least two parties"
  [[ "$rate" =~ ^[0-9]+$ ]] || die "RATE_BITS must be an integer (bits per second)"
  [[ "$mtu" =~ ^[0-9]+$ ]] || die "MTU must be an integer"
  local parties=("$@") i j ns
  # Burst: 2 MTUs or 50 µs of line rate, whichever is larger (HTB needs some burst at Gbit rates).
  local burst=$(( rate / 8 / 20000 ))
  [ "$burst" -ge $(( 2 * mtu )) ] || burst=$(( 2 * mtu ))
  local quantum=$(( mtu + 100 ))
  for i in "${!parties[@]}"; do
    ns="$(ns_name "$tag" "${parties[$i]}")"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" tuntap add dev "$DEV" mode tun
    ip -n "$ns" link set "$DEV" mtu "$mtu" txqueuelen 10000
    ip -n "$ns" addr add "$NET.$((11 + i))/24" dev "$DEV"
    ip -n "$ns" link set "$DEV" up
    [ "$rate" = 0 ] && continue
    tc -n "$ns" qdisc add dev "$DEV" root handle 1: htb default 99 r2q 1000
    tc -n "$ns" class add dev "$DEV" parent 1: classid 1:99 htb rate 10gbit quantum 200000
    for j in "${!parties[@]}"; do
      [ "$i" = "$j" ] && continue
      tc -n "$ns" class add dev "$DEV" parent 1: classid "1:$((11 + j))" htb rate "${rate}bit" ceil "${rate}bit" burst "$burst" cburst "$burst" quantum "$quantum"
      tc -n "$ns" qdisc add dev "$DEV" parent "1:$((11 + j))" pfifo limit 100000
      tc -n "$ns" filter add dev "$DEV" parent 1: protocol ip prio 1 u32 match ip dst "$NET.$((11 + j))/32" flowid "1:$((11 + j))"
    done
  done
}

ports() {
  local tag="$1"
  shift
  local parties=("$@") i out=()
  for i in "${!parties[@]}"; do out+=("$(ns_name "$tag" "${parties[$i]}"):$DEV:$NET.$((11 + i))"); done
  echo "${out[@]}"
}

down() {
  local tag="$1" ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^secp${tag}-" || true); do
    ip -n "$ns" tuntap del dev "$DEV" mode tun 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}

run() {
  local tag="$1" rate="$2" delay="$3" mtu="$4"
  shift 4
  local parties=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do parties+=("$1"); shift; done
  [ "${1:-}" = "--" ] || die "run: missing -- before the command"
  shift
  local dl
  dl="$(build_delayline)"
  RUN_TAG="$tag"
  RUN_PID=""
  cleanup_run() {
    if [ -n "$RUN_PID" ]; then kill "$RUN_PID" 2>/dev/null || true; wait "$RUN_PID" 2>/dev/null || true; fi
    down "$RUN_TAG"
  }
  trap cleanup_run EXIT
  trap 'exit 130' INT TERM
  up "$tag" "$rate" "$mtu" "${parties[@]}"
  # shellcheck disable=SC2046
  coproc DL { exec "$dl" "$delay" $(ports "$tag" "${parties[@]}"); }
  RUN_PID=$DL_PID
  read -r line <&"${DL[0]}" || die "delay line did not start"
  [ "$line" = ready ] || die "delay line said: $line"
  "$@"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  probe) probe ;;
  up) [ $# -ge 5 ] || die "usage: up TAG RATE_BITS MTU PARTY PARTY..."; up "$@" ;;
  down) [ $# -eq 1 ] || die "usage: down TAG"; down "$1" ;;
  down-all) down '[0-9]+x[0-9]+'; down 'probe[0-9]+'; down 'demo' ;;
  delayline) build_delayline ;;
  ports) ports "$@" ;;
  run) run "$@" ;;
  *) die "usage: netns.sh probe | up TAG RATE_BITS MTU PARTY... | down TAG | down-all | delayline | ports TAG PARTY... | run TAG RATE_BITS DELAY_US MTU PARTY... -- CMD..." ;;
esac
