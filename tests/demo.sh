#!/bin/sh
# demo.sh HEAPWATCH: start a small leaking CPython service, then show what
# heapwatch sees in it: the census now, what grew over two seconds, what a
# short daemon run judged (heapwatch status) and kept in its history
# (heapwatch report), then who holds the leaking objects (heapwatch refs)
# and where the bytes are (dump --sizes).
set -eu
HW=${1:-build/heapwatch}
PY=/usr/bin/python3
dir=$(mktemp -d)
cat > "$dir/leaky.py" <<'PYEOF'
import gc, sys, threading, time
class Session(object):
    def __init__(self, n): self.payload = {"n": n, "tags": [n]}
class Request(object): pass
cache = []
def serve():
    n = 0
    while True:
        n += 1
        cache.append(Session(n))          # the leak: sessions never leave
        r = Request(); r.body = [n] * 3   # garbage, collected
        time.sleep(0.001)
for _ in range(2000): cache.append(Session(0))
threading.Thread(target=serve, daemon=True).start()
sys.stdout.write("ready\n"); sys.stdout.flush()
time.sleep(3600)
PYEOF
"$PY" "$dir/leaky.py" > "$dir/out" &
pid=$!
dpid=
trap 'kill $pid $dpid 2>/dev/null || true; wait $pid $dpid 2>/dev/null || true; rm -rf "$dir"' EXIT
i=0
until grep -q ready "$dir/out" 2>/dev/null; do
	i=$((i+1)); [ $i -gt 100 ] && { echo "demo: target did not start" >&2; exit 1; }
	sleep 0.05
done
echo "== heapwatch dump $pid   (a $($PY -c 'import sys; print(sys.version.split()[0])') process leaking Session objects)"
"$HW" dump --top 12 "$pid"
echo
echo "== heapwatch dump --growth 2 $pid"
"$HW" dump --growth 2 --top 8 "$pid"

echo
echo "== heapwatch daemon for 8 s (no statsd listens: every sample also goes"
echo "   to the local history; trend buckets of 1 s for a quick verdict), then"
echo "   heapwatch status and heapwatch report --text"
cat > "$dir/heapwatch.yaml" <<EOF
interval: 200ms
flush_interval: 1s
top_types: 10
log_level: error
statsd:
  host: 127.0.0.1
  port: 9
status_file: $dir/status.json
trend:
  warmup: 0s
  bucket: 1s
  window: 6s
history:
  path: $dir/history.db
targets:
  - name: demo
    pid: $pid
EOF
chmod 600 "$dir/heapwatch.yaml"
"$HW" daemon --config "$dir/heapwatch.yaml" &
dpid=$!
sleep 8
"$HW" status --status-file "$dir/status.json"
kill -TERM $dpid
wait $dpid
dpid=
"$HW" report --history "$dir/history.db" --since 1m --types 3 --text
html="$(dirname "$HW")/demo-report.html"
"$HW" report --history "$dir/history.db" --since 1m --html "$html"
echo
echo "HTML report (one self-contained page): $html"

echo
echo "== heapwatch refs $pid Session   (who holds them, like objgraph's show_backrefs)"
svg="$(dirname "$HW")/demo-refs.svg"
if command -v dot >/dev/null 2>&1; then
	"$HW" refs --samples 1 --svg "$svg" "$pid" Session
	echo "the back-references drawn by Graphviz: $svg"
else
	"$HW" refs --samples 1 "$pid" Session
fi

echo
echo "== heapwatch dump --sizes --sort bytes $pid   (bytes per type, like guppy's heap())"
"$HW" dump --sizes --sort bytes --top 8 "$pid"
