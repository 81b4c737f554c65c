#!/bin/sh
# bench_policyd.sh - sluice-policyd against postfwd and policyd-rate-limit
#
# Usage: tests/bench/bench_policyd.sh [BUILDDIR]   (default /tmp/build-policyd)
#
# Starts, in a temp dir on loopback/unix sockets: redis-server,
# sluice-policyd (one rate limit per SASL user plus suppression lookups:
# one EVALSHA per request), postfwd (a rate() rule per sasl_username,
# in-memory) and policyd-rate-limit (limit_by_sasl, sqlite backend, its
# Debian default). A client with CLIENTS processes, each holding one
# persistent connection like a Postfix smtpd and sending one request at
# a time, runs SECONDS per round; ROUNDS rounds per server. Prints the
# median requests/s and the median and 99th percentile latency.
# Everything started is stopped by pid on exit.
set -eu
BUILD=${1:-/tmp/build-policyd}
CLIENTS=${CLIENTS:-4}
SECONDS_PER_ROUND=${SECONDS_PER_ROUND:-3}
ROUNDS=${ROUNDS:-3}
dir=$(mktemp -d /tmp/bench-policyd-XXXXXX)
chmod 755 "$dir"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 777 --save "" \
	--appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
pids="$pids $!"

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/secret"; chmod 600 "$dir/secret"
cat >"$dir/sluice.conf" <<CONF
log_level = "warning"
secret_file = "$dir/secret"
redis { socket = "$dir/redis.sock" }
policyd {
  listen = { "unix:$dir/sluice.sock" }
  limit "per-user" { key = '\${sasl_username}' rate = "1000000/hour" }
}
CONF
"$BUILD/policyd/sluice-policyd" -f -c "$dir/sluice.conf" >"$dir/sluice.log" 2>&1 &
pids="$pids $!"

pfport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo 'id=R1; sasl_username=~.; action=rate(sasl_username/1000000/3600/450 4.7.1 limit)' >"$dir/postfwd.cf"
# postfwd (postfwd2) detaches by itself: stopped through its pid file
postfwd -f "$dir/postfwd.cf" -i 127.0.0.1 -p "$pfport" -u nobody -g nogroup -L \
	--pidfile "$dir/postfwd.pid" >"$dir/postfwd.log" 2>&1

cat >"$dir/prl.yaml" <<CONF
debug: False
user: "root"
group: "root"
pidfile: "$dir/prl.pid"
sqlite_config:
    database: "$dir/prl.sqlite3"
backend: 0
SOCKET: "$dir/prl.sock"
socket_permission: 0666
limits:
    - [1000000, 3600]
limits_by_id: {}
limit_by_sasl: True
limit_by_sender: False
limit_by_ip: False
limited_networks: []
success_action: "dunno"
fail_action: "defer_if_permit Rate limit reach, retry later"
db_error_action: "dunno"
report: False
CONF
policyd-rate-limit --file "$dir/prl.yaml" >"$dir/prl.log" 2>&1 &
pids="$pids $!"
sleep 2
# both may detach: stop them through their pid files too
[ -f "$dir/prl.pid" ] && pids="$pids $(cat "$dir/prl.pid")"
[ -f "$dir/postfwd.pid" ] && pids="$pids $(cat "$dir/postfwd.pid")"

/usr/bin/python3 - "$CLIENTS" "$SECONDS_PER_ROUND" "$ROUNDS" \
	"sluice-policyd=unix:$dir/sluice.sock" "postfwd=inet:127.0.0.1:$pfport" \
	"policyd-rate-limit=unix:$dir/prl.sock" <<'PY'
import multiprocessing, socket, statistics, sys, time

clients, secs, rounds = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
servers = [a.split("=", 1) for a in sys.argv[4:]]

def request(i, n):
    return ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
            "client_address=192.0.2.%d\nclient_name=c.test\nhelo_name=c.test\nqueue_id=\n"
            "instance=%x.%x\nsender=user%d@shop.test\nrecipient=r%d@dest.test\n"
            "sasl_method=PLAIN\nsasl_username=user%d\nrecipient_count=0\n\n"
            % (i % 250, i, n, i % 100, n, i % 100)).encode()

def connect(spec):
    kind, addr = spec.split(":", 1)
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX); s.connect(addr)
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.socket(); s.connect((host, int(port)))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(10)
    return s

def worker(args):
    spec, idx, secs = args
    s = connect(spec)
    lat, n, end = [], 0, time.monotonic() + secs
    while time.monotonic() < end:
        t0 = time.perf_counter()
        s.sendall(request(idx * 1000003 + n, n))
        buf = b""
        while not buf.endswith(b"\n\n"):
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("%s closed the connection" % spec)
            buf += chunk
        lat.append(time.perf_counter() - t0)
        n += 1
    return lat

print("%-20s %10s %10s %10s  (%d clients, %d x %.0fs)" % ("server", "req/s", "p50 ms", "p99 ms",
                                                         clients, rounds, secs))
for name, spec in servers:
    rates, p50s, p99s = [], [], []
    try:
        for r in range(rounds):
            with multiprocessing.Pool(clients) as pool:
                lats = pool.map(worker, [(spec, i, secs) for i in range(clients)])
            all_l = sorted(l for ls in lats for l in ls)
            rates.append(len(all_l) / secs)
            p50s.append(all_l[len(all_l) // 2] * 1000)
            p99s.append(all_l[int(len(all_l) * 0.99)] * 1000)
        print("%-20s %10.0f %10.3f %10.3f" % (name, statistics.median(rates),
                                              statistics.median(p50s), statistics.median(p99s)))
    except Exception as e:
        print("%-20s failed: %s" % (name, e))
PY
