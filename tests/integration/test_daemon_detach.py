# test_daemon_detach.py - a target the census cannot give back whole: a
# real CPython whose thread sits in a vfork(2) wait (state D, deaf to
# PTRACE_INTERRUPT), sampled by the real daemon with max_pause 300ms.  The
# census fails for that thread and holds it until it can stop (census.h
# detach_failures); the daemon logs it naming target and pid, says it in
# STATUS=, sends it as the detach_failures health gauge to a real statsd,
# and once the vfork ends the target runs untraced and is sampled again.
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Results  # noqa: E402
from hwdaemon import Daemon, config_text, write_config  # noqa: E402
from realstack import Statsd  # noqa: E402

R = Results()
PY = "/usr/bin/python3.11"

HOLD_C = r"""
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* vfork; the child says so on fd and exits once release_fd is readable.
 * The calling thread waits in vfork meanwhile (state D). */
int hold_vfork(int fd, int release_fd)
{
	char c = 'v';
	pid_t p = vfork();

	if (p == 0) {
		if (write(fd, &c, 1) != 1 || read(release_fd, &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	if (p < 0)
		return -1;
	while (waitpid(p, NULL, 0) < 0)
		;
	return 0;
}
"""

TARGET = r"""
import ctypes, os, sys, threading, time
lib = ctypes.CDLL(sys.argv[1])
keep = [[i] for i in range(20000)]
r, w = os.pipe()
t = threading.Thread(target=lambda: lib.hold_vfork(w, int(sys.argv[2])), daemon=True)
t.start()
os.read(r, 1)
sys.stdout.write("ready\n")
sys.stdout.flush()
while True:
    time.sleep(3600)
"""


def states(pid):
    out = []
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                out.append(f.read().rsplit(")", 1)[1].split()[0])
        except OSError:
            pass
    return "".join(sorted(out))


def traced(pid):
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                if "TracerPid:\t0" not in f.read():
                    return True
        except OSError:
            pass
    return False


cc = shutil.which("cc") or shutil.which("gcc")
if not cc or shutil.which("node") is None or not os.access(PY, os.X_OK):
    R.skip("daemon detach failures", "needs cc, node and %s" % PY)
    R.exit()
work = tempfile.mkdtemp(prefix="hw-detach-")
p = d = sd = None
rel_w = None
try:
    src, lib = os.path.join(work, "hold.c"), os.path.join(work, "hold.so")
    with open(src, "w") as f:
        f.write(HOLD_C)
    subprocess.check_call([cc, "-shared", "-fPIC", "-O1", "-o", lib, src])
    script = os.path.join(work, "target.py")
    with open(script, "w") as f:
        f.write(TARGET)
    rel_r, rel_w = os.pipe()
    p = subprocess.Popen([PY, script, lib, str(rel_r)], stdout=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, pass_fds=(rel_r,))
    os.close(rel_r)
    if not p.stdout.readline().startswith(b"ready"):
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
