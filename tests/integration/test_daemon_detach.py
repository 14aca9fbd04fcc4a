# test_daemon_detach.py - a target the census cannot give back whole: a
# real CPython whose thread sits in a vfork(2) wait (state D, deaf to
# PTRACE_INTERRUPT), sampled by the real daemon with max_pause 300ms.  The
# census fails for that thread and holds it until it can stop (census.h
# detach_failures); the daemon logs it naming target and pid, says it in
# STATUS=, sends it as the detach_failures health gauge to a real statsd,
# and once the vfork ends the target runs untraced and is sampled again.
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Results  # noqa: E402
from hwdaemon import Daemon, config_text, write_config  # noqa: E402
from realstack import Statsd  # noqa: E402
from vforkhold import build, start, task_states, traced  # noqa: E402

R = Results()
PY = "/usr/bin/python3.11"

def states(pid):
    return "".join(sorted(task_states(pid).values()))


cc = shutil.which("cc") or shutil.which("gcc")
if not cc or shutil.which("node") is None or not os.access(PY, os.X_OK):
    R.skip("daemon detach failures", "needs cc, node and %s" % PY)
    R.exit()
work = tempfile.mkdtemp(prefix="hw-detach-")
p = d = sd = None
rel_w = None
try:
    lib, script = build(work, cc)
    p, rel_w, line = start(PY, lib, script, 20000)
    if not line.startswith("ready"):
        raise RuntimeError("target: no ready line")
    R.check("target has a thread in its vfork wait (%s)" % states(p.pid), "D" in states(p.pid))
    sd = Statsd(work)
    conf = os.path.join(work, "d.yaml")
    write_config(conf, config_text(sd.port, [("held", "pid: %d" % p.pid)], prefix="dt",
                                   status_file=os.path.join(work, "status.json"),
                                   extra="max_pause: 300ms\n"))
    d = Daemon(work, conf)
    d.wait_ready()
    line = d.wait_log("not given back at once", 30)
    text = d.since_mark()
    want = "target 'held': pid %d: " % p.pid
    R.check("logged, naming target and pid: %s" % [l for l in text.splitlines() if "given back" in l][0][:160],
            want in text)
    d.wait(lambda: "detach failures" in d.notify.status(), 15, "STATUS detach failures")
    R.ok("STATUS=%s" % d.notify.status())
    got = d.wait(lambda: sd.gauges().get("dt.heapwatch.detach_failures"), 20, "detach_failures gauge")
    R.check("health gauge dt.heapwatch.detach_failures = %d" % got, got >= 1)
    # the vfork ends: the held thread stops, is let go, and the census works
    os.write(rel_w, b"x")
    d.set_mark()
    d.wait(lambda: states(p.pid) and all(c in "RS" for c in states(p.pid)) and not traced(p.pid),
           15, "the target running untraced")
    R.ok("after the vfork every thread runs untraced (%s)" % states(p.pid))
    d.wait(lambda: sd.gauges().get("dt.held.w0.gc_objects"), 30, "a census of the target")
    R.ok("the target is censused again (gc_objects %d)" % sd.gauges()["dt.held.w0.gc_objects"])
    rc = d.stop()
    R.check("SIGTERM: exit 0", rc == 0, "rc %s" % rc)
    R.check("target left running untraced (%s)" % states(p.pid),
            all(c in "RS" for c in states(p.pid)) and not traced(p.pid))
except Exception as ex:
    R.bad("daemon detach failures", "%s: %s" % (type(ex).__name__, ex))
    if d:
        print(d.text()[-3000:])
finally:
    if d:
        d.close()
    if rel_w is not None:
        try:
            os.write(rel_w, b"x")
        except OSError:
            pass
        os.close(rel_w)
    if p:
        p.kill()
        p.wait()
    if sd:
        sd.close()
    shutil.rmtree(work, ignore_errors=True)
R.exit()
