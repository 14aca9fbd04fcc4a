# test_freeze_budget.py - a thread that cannot stop never holds the target
# (or heapwatch) past --max-pause: a real CPython whose thread sits in a
# vfork(2) wait (state D, deaf to PTRACE_INTERRUPT) until its child exits.
# heapwatch fails with one line naming the thread; every other thread runs
# on ('S'/'R', never 't'); once the vfork ends nothing is left traced and
# the next census works.
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Results, heapwatch  # noqa: E402
import pythons  # noqa: E402
from vforkhold import build, start, task_states, traced  # noqa: E402

R = Results()

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
    lib, script = build(d, cc)
    for label, exe in exes:
        p, rel_w, line = start(exe, lib, script, 50000)
        try:
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
