# test_sizes.py - `heapwatch dump --sizes` against the target's own
# sum(sys.getsizeof(o)) over gc.get_objects(), per type, for classes of
# its own and the builtin containers, on every CPython build found; the
# dicts split into "dict of X" rows add up to the dict total; --sort
# bytes orders by bytes; usage errors exit 2.
#
# The target answers after heapwatch's read (its own counting allocates:
# the lists it builds are freed before it answers, and a second answer
# is asked for when the first differs, since interpreter internals may
# move between the two reads).
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import pythons  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "sizes_target.py")
EXACT = ["__main__.Session", "__main__.Slotted", "__main__.Wide", "list", "tuple",
         "set", "frozenset"]


def ask(p):
    p.stdin.write(b"s\n")
    p.stdin.flush()
    return json.loads(p.stdout.readline().decode())


def rows_of(doc):
    return dict((t["name"], t) for t in doc["types"])


def differences(doc, mine):
    """What differs from the target's own sums.  heapwatch also counts
    the permanent generation, which gc.get_objects() cannot list: 3.12
    moves immortal objects there at every collection (375 tuples of the
    deep-frozen modules on 3.12.1).  Tuples, the only type seen there,
    may then exceed the target's count by at most that many."""
    rows = rows_of(doc)
    perm = doc["lists"]["permanent"]
    out = []
    for name in EXACT:
        want = mine["types"].get(name, [0, 0])
        r = rows.get(name, {"count": 0, "bytes": 0})
        got = [r["count"], r.get("bytes", 0) - r.get("values_bytes", 0)]
        if name == "tuple" and perm:
            if not (want[0] <= got[0] <= want[0] + perm and want[1] <= got[1]):
                out.append("%s: heapwatch %s, target %s + at most %d permanent" %
                           (name, got, want, perm))
        elif got != want:
            out.append("%s: heapwatch %s, target %s" % (name, got, want))
    dicts = [r for n, r in rows.items() if n == "dict" or n.startswith("dict of ")]
    got = [sum(r["count"] for r in dicts), sum(r["bytes"] for r in dicts)]
    if got != mine["types"].get("dict", [0, 0]):
        out.append("dict and dict of *: heapwatch %s, target %s" % (got, mine["types"]["dict"]))
    return out


def main():
    res = harness.Results()
    found, skipped = pythons.find_builds()
    for s in skipped:
        res.skip("sizes", s)
    for b in found:
        if tuple(b.version[:2]) < (2, 7) or (3, 0) <= tuple(b.version[:2]) < (3, 6):
            res.skip(b.label, "the object model covers CPython 2.7 and 3.6 and later")
            continue
        if tuple(b.version[:2]) < (3, 11):
            res.skip(b.label + ": values_bytes", "instance values outside a dict are 3.11+")
        p = subprocess.Popen(b.argv(TARGET), env=b.env(), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        try:
            pid = b.host_pid(p)
            if not p.stdout.readline().startswith(b"ready"):
                res.bad(b.label, "target did not start")
                continue
            rc, out, err = harness.heapwatch("dump", "--json", "--sizes", pid)
            if rc != 0 and "referents and sizes need" in err:
                res.skip(b.label, err.strip())
                continue
            if rc != 0:
                res.bad(b.label, "dump --sizes failed: %s" % err.strip())
                continue
            doc = json.loads(out)
            diff = differences(doc, ask(p))
            if diff:
                diff = differences(doc, ask(p))
            res.check("%s: bytes per type equal sum(sys.getsizeof) (%s, dicts)" %
                      (b.label, ", ".join(EXACT)), not diff, "; ".join(diff))
            rows = rows_of(doc)
            mine = ask(p)
            want = mine["materialised"] if tuple(b.version[:2]) >= (3, 11) else mine["instances"]
            got = rows.get("dict of __main__.Session", {}).get("count", 0)
            res.check("%s: dict of __main__.Session counts %d instance dicts" % (b.label, want),
                      got == want, "got %d" % got)
            res.check("%s: every row has bytes" % b.label,
                      all("bytes" in t for t in doc["types"]) and doc.get("bytes", 0) > 0)
            sess = rows.get("__main__.Session", {})
            if tuple(b.version[:2]) >= (3, 11):
                res.check("%s: values of never-materialised instances counted to their row"
                          % b.label, sess.get("values_bytes", 0) > 0, sess)
            approx = [t["name"] for t in doc["types"] if t.get("approx")]
            print("NOTE %s: %d objects (%d permanent), %d bytes, %d rows; approximate rows: "
                  "%s; pause %.1f ms"
                  % (b.label, doc["gc_objects"], doc["lists"]["permanent"], doc["bytes"],
                     doc["ntypes"],
                     ", ".join(approx[:6]) or "none", doc["pause_us"] / 1000.0))
            rc, out, err = harness.heapwatch("dump", "--sizes", "--sort", "bytes", "-n", "5", pid)
            lines = out.splitlines()
            vals = [int(l.split()[-2].lstrip("~")) for l in lines[2:7] if len(l.split()) >= 5]
            res.check("%s: --sort bytes orders rows by bytes" % b.label,
                      rc == 0 and len(vals) == 5 and vals == sorted(vals, reverse=True), out)
            state = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
            res.check("%s: target left running (state %s)" % (b.label, state), state in "RS")
        finally:
            harness.quit_target(p)
    for args, why in ((["--sort", "bytes", "1"], "--sort bytes needs --sizes"),
                      (["--sizes", "--sort", "size", "1"], "is not count or bytes"),
                      (["--sizes", "--growth", "1", "1"], "cannot be combined")):
        rc, out, err = harness.heapwatch("dump", *args)
        res.check("dump %s: exit 2 naming the problem" % " ".join(args),
                  rc == 2 and why in err, "rc %d: %s" % (rc, err.strip()))
    res.exit()


main()
