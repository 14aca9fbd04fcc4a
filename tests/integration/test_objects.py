# test_objects.py - the object model against the target's own answers.
#
# For every CPython build found (pythons.find_builds(): pyenv, Debian,
# sid's 3.13+ with and without debug files), objects_target.py holds the
# structures of issue 10's list and dumps, for every object of
# gc.get_objects(), its id, type, sys.getsizeof and the ids of
# gc.get_referents().  build/tests/hw-objdump (test-only) reads the same
# process from outside.  For every object of an exact kind the referents
# must be equal as multisets (synthetic edges aside) and, unless marked
# approximate, the size must be equal; opaque and partial objects are
# counted and their types listed.  A few edges are checked by label (the
# xmpp registry, a closure, slots, a class attribute list).
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import pythons  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.dirname(harness.HEAPWATCH)
OBJDUMP = os.path.join(BUILD, "tests", "hw-objdump")
TARGET = os.path.join(HERE, "objects_target.py")


def run_target(b, tmp):
    inside = "/tmp/hw-objects-%d-%d.json" % (os.getpid(), random.randrange(1 << 30))
    out = b.host_path(inside) if b.chrooted else os.path.join(tmp, "target.json")
    p = subprocess.Popen(b.argv(TARGET, inside if b.chrooted else out), env=b.env(),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    pid = b.host_pid(p)
    line = p.stdout.readline().decode()
    if not line.startswith("ready"):
        p.kill()
        p.wait()
        raise RuntimeError("%s: target said %r" % (b.label, line))
    return p, pid, out


def ask_again(p, ids):
    """The target's answers now, for objects whose dumped answers
    differed from heapwatch's: {id: (size, refs)}."""
    if not ids:
        return {}
    p.stdin.write(("r " + " ".join(str(i) for i in ids) + "\n").encode())
    p.stdin.flush()
    return dict((int(k), v) for k, v in json.loads(p.stdout.readline().decode()).items())


def compare(tgt, lines, p=None):
    head = json.loads(lines[0])
    hw = {}
    for line in lines[1:]:
        o = json.loads(line)
        hw[o["a"]] = o
    r = {"head": head, "status": collections.Counter(), "missing": 0, "reused": 0,
         "ref_bad": [], "size_bad": [], "opaque": collections.Counter(),
         "partial": collections.Counter(), "approx": collections.Counter(),
         "changed": 0}
    records = tgt["records"]
    if p is not None:
        # objects that differ: the target's answer again, after the read
        differ = []
        for i, t, size, refs in records:
            o = hw.get(i)
            if o and o["t"] == t and o["st"] == "exact" and (
                    collections.Counter(e[0] for e in o["r"] if not e[1]) !=
                    collections.Counter(refs) or (not o["x"] and o["s"] != size)):
                differ.append(i)
        again = ask_again(p, differ)
        fixed = []
        for rec in records:
            if rec[0] in again:
                rec = [rec[0], rec[1]] + again[rec[0]]
                r["changed"] += 1
            fixed.append(rec)
        records = fixed
    for i, t, size, refs in records:
        o = hw.get(i)
        if o is None:
            r["missing"] += 1          # freed since the dump
            continue
        if o["t"] != t:
            r["reused"] += 1           # freed, and the address reused
            continue
        r["status"][o["st"]] += 1
        if o["st"] == "opaque":
            r["opaque"][t] += 1
        elif o["st"] == "partial":
            r["partial"][t] += 1
        if o["st"] == "exact":
            mine = collections.Counter(e[0] for e in o["r"] if not e[1])
            theirs = collections.Counter(refs)
            if mine != theirs:
                labels = dict((e[0], e[2] if len(e) > 2 else "") for e in o["r"])
                r["ref_bad"].append("%s 0x%x: extra %s, lacking %s" % (
                    t, i, [(hex(x), labels.get(x)) for x in (mine - theirs)][:4],
                    [hex(x) for x in (theirs - mine)][:4]))
        if o["x"]:
            r["approx"][t] += 1
        elif o["s"] != size:
            r["size_bad"].append("%s 0x%x: sys.getsizeof %d, heapwatch %d" % (t, i, size, o["s"]))
    return r, hw


def labels_of(hw, addr):
    return [(e[0], e[2]) for e in hw.get(addr, {}).get("r", [])]


def check_marks(res, b, tgt, hw):
    m = tgt["marks"]
    v = tuple(b.version[:2])
    # the xmpp registry: the module's dict holds the dispatcher, whose
    # attributes hold _expected (inline or values on 3.11+, a dict before)
    mod_dict = [a for a, lab in labels_of(hw, m["xmpp_module"]) if lab == ".__dict__"]
    res.check("%s: xmpp module -> .__dict__" % b.label, len(mod_dict) == 1,
              labels_of(hw, m["xmpp_module"]))
    if mod_dict:
        res.check("%s: module dict ['_dispatcher'] -> Dispatcher" % b.label,
                  (m["dispatcher"], "['_dispatcher']") in labels_of(hw, mod_dict[0]),
                  labels_of(hw, mod_dict[0])[:5])
    d_edges = labels_of(hw, m["dispatcher"])
    if v < (3, 11):
        res.skip("%s: managed values" % b.label, "managed dicts and inline values are 3.11+: "
                 "the instance __dict__ is checked instead")
    if not tgt["frozen"]:
        res.skip("%s: gc.freeze" % b.label, "gc.freeze() is 3.7+: phase A is not frozen here")
    if v >= (3, 11):
        res.check("%s: Dispatcher ._expected (managed values)" % b.label,
                  (m["expected"], "._expected") in d_edges, d_edges)
    else:
        inst_dict = [a for a, lab in d_edges if lab == ".__dict__"]
        res.check("%s: Dispatcher .__dict__['_expected']" % b.label,
                  len(inst_dict) == 1 and
                  (m["expected"], "['_expected']") in labels_of(hw, inst_dict[0]), d_edges)
    res.check("%s: _expected ['9394860'] -> Iq" % b.label,
              any(lab == "['9394860']" for _, lab in labels_of(hw, m["expected"])),
              labels_of(hw, m["expected"])[:3])
    res.check("%s: closure .__closure__" % b.label,
              any(lab == ".__closure__" for _, lab in labels_of(hw, m["closure"])),
              labels_of(hw, m["closure"]))
    res.check("%s: slot .a" % b.label,
              (m["slots_a"], ".a") in labels_of(hw, m["slots"]), labels_of(hw, m["slots"]))
    res.check("%s: class attribute list held by the class dict ['items']" % b.label,
              any(any(a == m["registry_items"] and lab == "['items']"
                      for a, lab in labels_of(hw, d))
                  for d, l0 in labels_of(hw, m["registry_class"]) if l0 == ".__dict__"),
              labels_of(hw, m["registry_class"]))
    res.check("%s: tuple [0]" % b.label,
              any(lab == "[0]" for _, lab in labels_of(hw, m["tuple"])), labels_of(hw, m["tuple"]))
    res.check("%s: general dict key edges" % b.label,
              any(lab == "(key)" for _, lab in labels_of(hw, m["general"])),
              labels_of(hw, m["general"]))
    if "old" in m:
        # 2.7: an old-style instance holds its class and its __dict__, an
        # old-style class its __dict__, a bound instancemethod im_class
        old = labels_of(hw, m["old"])
        res.check("%s: old-style instance .__class__ and .__dict__" % b.label,
                  (m["old_class"], ".__class__") in old and
                  any(lab == ".__dict__" for _, lab in old), old)
        res.check("%s: old-style class .__dict__['attr']" % b.label,
                  any(any(a == m["old_attr"] and lab == "['attr']" for a, lab in labels_of(hw, d))
                      for d, l0 in labels_of(hw, m["old_class"]) if l0 == ".__dict__"),
                  labels_of(hw, m["old_class"]))
        res.check("%s: bound instancemethod .__self__ and .im_class" % b.label,
                  set([(m["old"], ".__self__"), (m["old_class"], ".im_class")]) <=
                  set(labels_of(hw, m["old_bound"])), labels_of(hw, m["old_bound"]))
        keys = set(lab for _, lab in labels_of(hw, m["int_keys"]) + labels_of(hw, m["bool_keys"]))
        res.check("%s: int, long and bool keys labelled as repr" % b.label,
                  set(["[1]", "[1000000000000000]", "[<int>]", "[True]"]) <= keys,
                  sorted(keys))


def main():
    res = harness.Results()
    if not os.access(OBJDUMP, os.X_OK):
        print("SKIP %s not built (make unit-bins)" % OBJDUMP)
        sys.exit(77)
    if os.geteuid() != 0:
        print("SKIP object model tests: need root (ptrace of other processes)")
        sys.exit(77)
    found, skipped = pythons.find_builds()
    for s in skipped:
        res.skip("objects", s)
    tmp = tempfile.mkdtemp(prefix="hw-objects-")
    for b in found:
        if tuple(b.version[:2]) < (2, 7) or (3, 0) <= tuple(b.version[:2]) < (3, 6):
            res.skip(b.label, "the object model covers CPython 2.7 and 3.6 and later")
            continue
        p = None
        try:
            p, pid, out = run_target(b, tmp)
            with open(out) as f:
                tgt = json.load(f)
            os.unlink(out)
            # a build the census itself cannot read is not the object
            # model's failure: say so and go on
            rc, _, err = harness.heapwatch("dump", "--json", pid)
            if rc != 0:
                res.skip(b.label, "the census cannot read it: %s" % err.strip()[:200])
                continue
            t0 = time.time()
            dp = subprocess.run([OBJDUMP, "--labels", str(pid)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=300)
            secs = time.time() - t0
            state = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
            res.check("%s: target left running (state %s)" % (b.label, state), state in "RS")
            if dp.returncode != 0:
                err = dp.stderr.decode().strip()
                if "which referents and sizes need" in err:
                    # a layout source (a hand-written table row) without
                    # the object fields: refused, as it must be
                    res.skip(b.label, "refused as expected, no DWARF and no generated "
                             "table row: %s" % err)
                else:
                    res.bad(b.label, "hw-objdump failed: %s" % err)
                continue
            r, hw = compare(tgt, dp.stdout.decode().splitlines(), p)
            st = r["status"]
            print("NOTE %s: %d objects checked (%d exact, %d partial, %d opaque), "
                  "%d freed/reused and %d changed since the dump (asked again), %d sizes "
                  "approximate; subtype_traverse: %s; layout %s; read in %.2fs" % (
                      b.label, sum(st.values()), st["exact"], st["partial"], st["opaque"],
                      r["missing"] + r["reused"], r["changed"], sum(r["approx"].values()),
                      r["head"]["how"], r["head"]["layout"], secs))
            print("NOTE %s opaque: %s" % (b.label, ", ".join(
                "%s %d" % kv for kv in r["opaque"].most_common(8))))
            res.check("%s: referents equal gc.get_referents for every exact object" % b.label,
                      not r["ref_bad"], "; ".join(r["ref_bad"][:5]))
            res.check("%s: sizes equal sys.getsizeof for every object not marked" % b.label,
                      not r["size_bad"], "; ".join(r["size_bad"][:5]))
            res.check("%s: almost every dumped object found" % b.label,
                      r["missing"] + r["reused"] <= max(10, len(tgt["records"]) // 200),
                      "%d missing, %d reused" % (r["missing"], r["reused"]))
            res.check("%s: instances of Python classes are exact (subtype_traverse known)" % b.label,
                      "unknown" not in r["head"]["how"], r["head"]["how"])
            check_marks(res, b, tgt, hw)
        except Exception as e:  # noqa: BLE001 - report and go on to the next build
            res.bad(b.label, repr(e))
        finally:
            if p is not None:
                harness.quit_target(p)
    res.exit()


main()
