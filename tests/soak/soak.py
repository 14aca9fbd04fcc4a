# soak.py - the daemon for SOAK_SECONDS (default 120) against targets that
# come and go (one replaced every 2 s), a statsd that goes down for 5 s
# every 20 s, and a SIGHUP every SOAK_RELOAD seconds (default 3) that cycles
# through a valid configuration, a broken one (refused), one whose statsd
# host does not resolve (taken: samples wait in the ring) and a valid one
# that changes the ring and the type selection (everything rebuilt).
# Prints the samples taken, the reloads taken and refused, and the
# daemon's RSS at start (after a 15 s warm-up), its peak and at the end.
# RSS rises and falls with what the ring holds (it fills while statsd is
# down or does not resolve, and a reload that changes the ring frees it),
# so flatness is judged on the low points: the lowest RSS of the first
# 24 s after warm-up against the lowest of the last 24 s.  Fails if the
# daemon dies, if a reload is not acted on, or if that low point grew by
# more than 10%.
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from realstack import Statsd  # noqa: E402

HW = sys.argv[1] if len(sys.argv) > 1 else "build/heapwatch"
SECS = int(os.environ.get("SOAK_SECONDS", "120"))
NT = int(os.environ.get("SOAK_TARGETS", "6"))
RELOAD = float(os.environ.get("SOAK_RELOAD", "3"))
WARM = 15
WINDOW = 24      # seconds: a whole reload cycle and a statsd outage cycle
TICK = 0.5
PY = "/usr/bin/python3.11"
CHURN = os.path.join(HERE, "..", "integration", "churn_target.py")
work = tempfile.mkdtemp(prefix="hw-soak-")
TAG = "soak-%d" % os.getpid()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def target():
    # The tag keeps this run's match away from other churn targets on the
    # machine (a concurrent test's 1M-object target would otherwise be
    # sampled too, and its snapshot storage read as growth).
    p = subprocess.Popen([PY, CHURN, "big", "20000", TAG], stdout=subprocess.PIPE)
    p.stdout.readline()
    return p


def config(port, kind):
    """The configuration of a reload: valid, valid2, broken, unresolvable."""
    host = "soak-statsd.heapwatch.invalid" if kind == "unresolvable" else "127.0.0.1"
    ring = 256 if kind == "valid2" else 512
    # compressed trends: selections, trends and verdicts are exercised too,
    # their state made and freed as targets come and go
    text = ("interval: 100ms\nflush_interval: 200ms\nring_capacity: %d\nlog_level: notice\n"
            "trend: {warmup: 1s, bucket: 1s, window: 10s}\nstatus_file: %s\n%s"
            "statsd:\n  host: %s\n  port: %d\n  prefix: soak\ntargets:\n  - name: soak\n"
            "    match: \"churn_target.py big 20000 %s\"\n") % (
                ring, os.path.join(work, "status.json"),
                "max_types: 40\ntop_types: 10\n" if kind == "valid2" else "", host, port, TAG)
    if kind == "broken":
        text += "  - name: soak\n    pid: 1\n"     # a duplicate name: refused
    return text


def write_config(path, text):
    with open(path + ".new", "w") as f:
        f.write(text)
    os.chmod(path + ".new", 0o600)
    os.rename(path + ".new", path)


statsd = Statsd(work)
targets = [target() for _ in range(NT)]
conf = os.path.join(work, "soak.yaml")
write_config(conf, config(statsd.port, "valid"))
log = open(os.path.join(work, "daemon.log"), "w")
d = subprocess.Popen([HW, "daemon", "--config", conf], stdout=log, stderr=subprocess.STDOUT)
start = time.time()
warm = None
series = []
replaced = 0
hups = 0
kinds = ["valid", "broken", "unresolvable", "valid2"]
next_reload = start + RELOAD
statsd_down = False
rc = None
try:
    while time.time() - start < SECS and d.poll() is None:
        time.sleep(TICK)
        now = time.time()
        el = now - start
        series.append((el, rss_kb(d.pid)))
        if warm is None and el >= WARM:
            warm = series[-1][1]
        if int(el * 2) % 4 == 0:
            old = targets.pop(0)
            old.kill()
            old.wait()
            targets.append(target())
            replaced += 1
        if now >= next_reload:
            write_config(conf, config(statsd.port, kinds[hups % len(kinds)]))
            d.send_signal(signal.SIGHUP)
            hups += 1
            next_reload = now + RELOAD
        if int(el) % 20 == 10 and not statsd_down:
            statsd.close()
            statsd_down = True
        elif int(el) % 20 == 15 and statsd_down:
            statsd = Statsd(work, statsd.port, statsd.mgmt)
            statsd_down = False
    died = d.poll()
    end = rss_kb(d.pid) if died is None else 0
    if died is None:
        d.send_signal(signal.SIGTERM)
        rc = d.wait(30)
    else:
        rc = "died (%s)" % died
finally:
    for t in targets:
        t.kill()
        t.wait()
    try:
        statsd.close()
    except Exception:
        pass
    if d.poll() is None:
        d.kill()
log.close()
text = open(os.path.join(work, "daemon.log")).read()
last = [l for l in text.splitlines() if "stopped:" in l]
taken = text.count("reloaded ")
refused = text.count("reload refused")
unchanged = text.count("configuration unchanged")
print("soak: %d s, %d targets, %d replaced, statsd down 5 s of every 20, SIGHUP every %g s" % (
    SECS, NT, replaced, RELOAD))
print("soak: daemon %s" % (last[-1] if last else "(no summary line)"))
print("soak: %d SIGHUPs: %d reloads taken, %d refused, %d unchanged" % (hups, taken, refused, unchanged))
after = [kb for el, kb in series if el >= WARM]
win = max(1, min(int(WINDOW / TICK), len(after) // 2))
low_start = min(after[:win]) if after else 0
low_end = min(after[-win:]) if after else 0
print("soak: daemon RSS at start (after %d s) %d KiB, peak %d KiB, at the end %d KiB (exit %s)" % (
    WARM, warm or 0, max(kb for _, kb in series) if series else 0, end, rc))
print("soak: daemon RSS low point over %g s: %d KiB after warm-up, %d KiB at the end (%+.1f%%)" % (
    win * TICK, low_start, low_end, 100.0 * (low_end - low_start) / low_start if low_start else 0))
if rc != 0:
    print(text[-3000:])
shutil.rmtree(work, ignore_errors=True)
# Signals sent close together are merged by the kernel: every SIGHUP need
# not give its own line, but most must, and both outcomes must show.
acted = taken + refused + unchanged
ok = (rc == 0 and low_start and low_end <= low_start * 1.10 and taken > 0 and refused > 0 and
      acted >= hups * 0.8)
print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
sys.exit(0 if ok else 1)
