# test_freeze_budget.py - a thread that cannot stop never holds the target
# (or heapwatch) past --max-pause: a real CPython whose thread sits in a
# vfork(2) wait (state D, deaf to PTRACE_INTERRUPT) until its child exits.
# heapwatch fails with one line naming the thread; every other thread runs
# on ('S'/'R', never 't'); once the vfork ends nothing is left traced and
# the next census works.
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Results, heapwatch  # noqa: E402
import pythons  # noqa: E402

R = Results()

HOLD_C = r"""
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* vfork; the child says so on fd, waits until fd2 is readable (the test
 * lets it go), then exits.  The calling thread waits in vfork meanwhile. */
int hold_vfork(int fd, int release_fd)
{
	char c = 'v';
	pid_t p = vfork();

	if (p == 0) {
		if (write(fd, &c, 1) != 1)
			_exit(1);
		if (read(release_fd, &c, 1) != 1)
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
keep = [[i] for i in range(50000)]
r, w = os.pipe()
rel_r, rel_w = int(sys.argv[2]), None
t = threading.Thread(target=lambda: lib.hold_vfork(w, rel_r), daemon=True)
t.start()
os.read(r, 1)          # the vfork child runs: the thread is in its vfork wait
sys.stdout.write("ready\n")
sys.stdout.flush()
while True:
    time.sleep(3600)
"""


def task_states(pid):
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                out[int(t)] = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            pass
    return out


def traced(pid):
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                if "TracerPid:\t0" not in f.read():
                    return True
        except OSError:
            pass
    return False


def wait_for(cond, tries=500):
    for _ in range(tries):
        if cond():
            return True
        time.sleep(0.01)
    return False


cc = shutil.which("cc") or shutil.which("gcc")
builds, skipped = pythons.builds()
exes = [(label, exe) for label, exe in builds if label in ("debian-3.11", "pyenv-3.12.1", "pyenv-3.13.0")]
if not cc:
    R.skip("freeze budget", "no C compiler for the vfork helper")
    R.exit()
if not exes:
    R.skip("freeze budget", "none of Debian's python3.11, pyenv 3.12 or 3.13 found")
    R.exit()

d = tempfile.mkdtemp(prefix="hw-budget-")
try:
    src = os.path.join(d, "hold.c")
    lib = os.path.join(d, "hold.so")
    with open(src, "w") as f:
        f.write(HOLD_C)
    subprocess.check_call([cc, "-shared", "-fPIC", "-O1", "-o", lib, src])
    script = os.path.join(d, "target.py")
    with open(script, "w") as f:
        f.write(TARGET)
    for label, exe in exes:
        rel_r, rel_w = os.pipe()
        p = subprocess.Popen([exe, script, lib, str(rel_r)], stdout=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, pass_fds=(rel_r,))
        os.close(rel_r)
        try:
            line = p.stdout.readline().decode()
            if not line.startswith("ready"):
                R.bad("%s: target" % label, "no ready line: %r" % line)
                continue
            d_threads = [t for t, s in task_states(p.pid).items() if s == "D"]
            R.check("%s: a thread in its vfork wait (state D)" % label, len(d_threads) == 1,
                    str(task_states(p.pid)))
            t0 = time.time()
            rc, out, err = heapwatch("dump", "--max-pause", "300ms", p.pid)
            took = time.time() - t0
            want = "heapwatch: pid %d: thread %d did not stop within 300 ms (state D" % (
                p.pid, d_threads[0] if d_threads else -1)
            R.check("%s: exit 1, one line naming the thread (%s)" % (label, err.strip()),
                    rc == 1 and err.count("\n") == 1 and err.startswith(want), "rc %d: %r" % (rc, err))
            print("NOTE %s: heapwatch gave up after %.2f s" % (label, took))
            st = task_states(p.pid)
            R.check("%s: every other thread running, none left in 't' (%s)" % (
                label, "".join(sorted(st.values()))),
                "t" not in st.values() and all(s in "RSD" for s in st.values()), str(st))
            # the vfork ends: the thread returns, and nothing holds it
            os.write(rel_w, b"x")
            ok = wait_for(lambda: all(s in "RS" for s in task_states(p.pid).values()))
            R.check("%s: after the vfork, every thread 'S'/'R' and untraced" % label,
                    ok and not traced(p.pid), str(task_states(p.pid)))
            rc, out, err = heapwatch("dump", "--json", "--max-pause", "300ms", p.pid)
            R.check("%s: the next census works (rc %d)" % (label, rc), rc == 0, err.strip())
        finally:
            os.close(rel_w)
            p.kill()
            p.wait()
finally:
    shutil.rmtree(d, ignore_errors=True)
for s in skipped:
    print("SKIP %s" % s)
R.exit()
