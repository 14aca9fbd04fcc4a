# test_errors.py - every failure is one line that names the pid once:
# "heapwatch: pid N: <what failed>", whatever layer found it.
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Results, heapwatch  # noqa: E402

R = Results()
PY = "/usr/bin/python3.11"


def sleeper(exe, *args):
    p = subprocess.Popen([exe] + list(args), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if exe.endswith("python3.11"):
        p.stdout.readline()
    return p


def named_once(what, rc, err, pid, want_code=1, want=None):
    line = err.strip()
    times = len(re.findall(r"\bpid %d\b" % pid, line))
    ok = (rc == want_code and err.count("\n") == 1 and
          line.startswith("heapwatch: pid %d: " % pid) and times == 1 and
          (want is None or want in line))
    R.check("%s: exit %d, one line, pid named once (%s)" % (what, want_code, line), ok,
            "rc %d, pid named %d times: %r" % (rc, times, err))


PYCODE = "import sys, time; print('ready', flush=True); time.sleep(120)"

# no such process: a child we reaped ourselves (its pid is not reused at once)
q = subprocess.Popen(["true"])
q.wait()
rc, out, err = heapwatch("dump", q.pid)
named_once("no such process", rc, err, q.pid, want="no such process")

# not Python
sl = sleeper("sleep", "60")
try:
    rc, out, err = heapwatch("dump", sl.pid)
    named_once("not Python", rc, err, sl.pid, want="not a CPython process")
finally:
    sl.kill()
    sl.wait()

if os.access(PY, os.X_OK):
    p = sleeper(PY, "-c", PYCODE)
    try:
        # a layout source the build does not have: 3.11 has no _Py_DebugOffsets
        rc, out, err = heapwatch("dump", "--layout-source", "debug_offsets", p.pid)
        named_once("no layout (debug_offsets on 3.11)", rc, err, p.pid)
        R.check("no layout: the version is said (%s)" % err.strip(), "CPython 3.11" in err, err)
        # another tracer
        if os.access("/usr/bin/strace", os.X_OK):
            tr = subprocess.Popen(["strace", "-p", str(p.pid), "-o", "/dev/null"],
                                  stderr=subprocess.DEVNULL)
            try:
                for _ in range(200):
                    with open("/proc/%d/status" % p.pid) as f:
                        if "TracerPid:\t0" not in f.read():
                            break
                    time.sleep(0.02)
                rc, out, err = heapwatch("dump", p.pid)
                named_once("already traced", rc, err, p.pid, want="already traced by pid %d" % tr.pid)
            finally:
                tr.kill()
                tr.wait()
        else:
            R.skip("already traced", "strace not installed")
        # not allowed to trace it
        if os.geteuid() == 0 and os.access("/usr/bin/setpriv", os.X_OK):
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                "--inh-caps=-all", os.environ.get("HEAPWATCH") or
                                os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "..", "..", "build", "heapwatch"),
                                "dump", str(p.pid)], capture_output=True, text=True)
            named_once("permission denied", r.returncode, r.stderr, p.pid,
                       want="need root or CAP_SYS_PTRACE")
        else:
            R.skip("permission denied", "not root or no setpriv")
    finally:
        p.kill()
        p.wait()
else:
    R.skip("no layout, already traced, permission denied", "no %s" % PY)

# No DWARF to be found (Debian's stripped python3.11 with its build-id and
# debug link changed): `--layout-source dwarf` fails in the DWARF reader,
# below the layout, below the session: still one "pid N".
if os.access(PY, os.X_OK) and shutil.which("objcopy") and shutil.which("readelf"):
    d = tempfile.mkdtemp(prefix="hw-errors-")
    try:
        exe = os.path.join(d, "python3.11")
        subprocess.check_call(["objcopy", "--remove-section", ".gnu_debuglink", PY, exe])
        note = subprocess.check_output(["readelf", "-n", exe]).decode()
        bid = bytes.fromhex([l.split(":")[1].strip() for l in note.splitlines() if "Build ID" in l][0])
        data = open(exe, "rb").read()
        open(exe, "wb").write(data.replace(bid, bytes(b ^ 0xff for b in bid)))
        os.chmod(exe, 0o755)
        p = subprocess.Popen([exe, "-c", PYCODE], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             env=dict(os.environ, PYTHONHOME="/usr"))
        try:
            p.stdout.readline()
            rc, out, err = heapwatch("dump", "--layout-source", "dwarf", p.pid)
            named_once("no DWARF (--layout-source dwarf)", rc, err, p.pid, want="DWARF")
        finally:
            p.kill()
            p.wait()
    finally:
        shutil.rmtree(d, ignore_errors=True)
else:
    R.skip("no DWARF", "no %s, objcopy or readelf" % PY)

R.exit()
