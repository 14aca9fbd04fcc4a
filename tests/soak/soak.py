# soak.py - the daemon for SOAK_SECONDS (default 120) against targets that
# come and go (one replaced every 2 s) and a statsd that goes down for 5 s
# every 20 s; prints the daemon's RSS after warm-up and at the end, and
# the samples taken.  Fails if RSS grew by more than 10% after warm-up.
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


statsd = Statsd(work)
targets = [target() for _ in range(NT)]
conf = os.path.join(work, "soak.yaml")
with open(conf, "w") as f:
    # compressed trends: selections, trends and verdicts are exercised too,
    # their state made and freed as targets come and go
    f.write("interval: 100ms\nflush_interval: 200ms\nring_capacity: 512\nlog_level: notice\n"
            "trend: {warmup: 1s, bucket: 1s, window: 10s}\nstatus_file: %s\n"
            "statsd:\n  port: %d\n  prefix: soak\ntargets:\n  - name: soak\n"
            "    match: \"churn_target.py big 20000 %s\"\n" % (os.path.join(work, "status.json"), statsd.port, TAG))
os.chmod(conf, 0o600)
log = open(os.path.join(work, "daemon.log"), "w")
d = subprocess.Popen([HW, "daemon", "--config", conf], stdout=log, stderr=subprocess.STDOUT)
start = time.time()
warm = None
series = []
replaced = 0
statsd_down = False
try:
    while time.time() - start < SECS:
        time.sleep(1)
        el = time.time() - start
        series.append(rss_kb(d.pid))
        if warm is None and el >= 15:
            warm = series[-1]
        if int(el) % 2 == 0:
            old = targets.pop(0)
            old.kill()
            old.wait()
            targets.append(target())
            replaced += 1
        if int(el) % 20 == 10 and not statsd_down:
            statsd.close()
            statsd_down = True
        elif int(el) % 20 == 15 and statsd_down:
            statsd = Statsd(work, statsd.port, statsd.mgmt)
            statsd_down = False
    end = rss_kb(d.pid)
    d.send_signal(signal.SIGTERM)
    rc = d.wait(30)
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
print("soak: %d s, %d targets, %d replaced, statsd down 5 s of every 20" % (SECS, NT, replaced))
print("soak: daemon %s" % (last[-1] if last else "(no summary line)"))
print("soak: daemon RSS after warm-up %d KiB, at the end %d KiB, max %d KiB (exit %d)" % (
    warm or 0, end, max(series), rc))
shutil.rmtree(work, ignore_errors=True)
ok = rc == 0 and warm and end <= warm * 1.10
print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
sys.exit(0 if ok else 1)
