# test_dump.py - heapwatch dump counts exactly what each CPython build's
# own gc.get_objects() (plus the permanent generation) sees.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import subprocess  # noqa: E402
from harness import HEAPWATCH, Results, Target, diff_counts, dump_json, heapwatch  # noqa: E402
from pythons import builds, version_of  # noqa: E402

R = Results()
found, skipped = builds()
for s in skipped:
    R.skip(s, "build not present")


def exact(label, exe, args=(), extra=()):
    what = "%s %s%s" % (label, " ".join(args) or "plain", (" " + " ".join(extra)) if extra else "")
    t = Target(exe, args)
    try:
        hw = dump_json(t.pid, *extra)
        py = t.count()
        if version_of(exe) < (3, 7):
            # While the target blocks in os.read(0, 1), 2.7 and 3.6 hold
            # that call's argument tuple (METH_VARARGS); it is gone by the
            # time the target counts.  3.7+ passes arguments without one.
            py["counts"]["tuple"] = py["counts"].get("tuple", 0) + 1
            py["total"] += 1
        d = diff_counts(hw, py)
        ok = not d and hw["gc_objects"] == py["total"]
        R.check(what + " [layout %s, %d objects, pause %d us, mode %s]" %
                (hw["layout_source"], hw["gc_objects"], hw["pause_us"], hw["mode"]),
                ok, "; ".join(d[:8]) + " (total %d vs %d)" % (hw["gc_objects"], py["total"]))
        R.check(what + " python version", hw["python"] == py["python"],
                "%s vs %s" % (hw["python"], py["python"]))
        R.check(what + " target running after", t.state() in "RS", "state " + t.state())
        return hw
    finally:
        t.close()


for label, exe in found:
    ver = version_of(exe)
    try:
        exact(label, exe)
        exact(label, exe, extra=("--mode", "stopped"))
        if label == "debian-3.11":
            # /proc/PID/mem, the reader used where process_vm_readv is not
            exact(label, exe, extra=("--reader", "procfs"))
        exact(label, exe, ("--threads=8",))
        if ver >= (3, 7):
            hw = exact(label, exe, ("--freeze",))
            R.check(label + " freeze: objects in the permanent generation",
                    hw["lists"]["permanent"] > 1000, str(hw["lists"]))
        else:
            R.skip(label + " --freeze", "gc.freeze() is 3.7+")
    except Exception as ex:  # a build that cannot run at all
        R.bad(label, repr(ex))

# growth: two censuses of one target
label, exe = found[-1] if found else (None, None)
for label, exe in found:
    if version_of(exe) >= (3, 8):
        break
if exe:
    import json
    t = Target(exe, ("--grow=700",))
    try:
        p = subprocess.Popen([HEAPWATCH, "dump", "--json", "--growth", "1", str(t.pid)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = p.stderr.readline().decode()
        if "first census taken" in first:
            t.grow()
        out, err = p.communicate(timeout=300)
        doc = json.loads(out) if p.returncode == 0 else {}
        g = dict((x["name"], x["delta"]) for x in doc.get("growth", []))
        R.check("growth: %s +700 __main__.Marker" % label, g.get("__main__.Marker") == 700,
                "rc %s, %s %s, growth %s" % (p.returncode, first.strip(), err.decode().strip(),
                                              sorted(g.items())[:5]))
    finally:
        t.close()

R.exit()
