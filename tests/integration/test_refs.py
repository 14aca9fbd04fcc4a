# test_refs.py - `heapwatch refs` and `heapwatch dump --leaking` against
# real CPython targets (refs_target.py) on every build found: the
# instances counted as the target's own gc.get_objects() counts them,
# every chain checked edge by edge by the target itself afterwards
# (id(), gc.get_referents, gc.get_referrers, the label evaluated, the
# root), the holders summary, Graphviz output, usage errors, the target
# left running, and a dying target giving a clean error.
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEAPWATCH, Results, Target, heapwatch  # noqa: E402
from pythons import find_builds  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
R = Results()
found, skipped = find_builds()
for s in skipped:
    R.skip(s, "build not present")


class RefsTarget(Target):
    """refs_target.py: "ready PID THREAD", then questions by ask()."""

    def __init__(self, build):
        Target.__init__(self, build, script=os.path.join(HERE, "refs_target.py"), timeout=120)
        self.thread = int(self.ready_line.split()[2])

    def ask(self, cmd, payload=None):
        data = cmd + ((json.dumps(payload) + "\n").encode() if payload is not None else b"")
        self.p.stdin.write(data)
        self.p.stdin.flush()
        doc = json.loads(self.readline())
        if self.readline() != "ready":
            raise RuntimeError("target %d: no ready" % self.pid)
        return doc


# type -> (what the first hop of its chain must be, as a root kind), or
# None when no root holds it (the cycle: garbage the collector would free)
CASES = [
    ("xmpp.protocol.Iq", "module"),
    ("__main__.ClosureItem", "module"),
    ("__main__.RegItem", "module"),
    ("__main__.TupleItem", "module"),
    ("__main__.FrozenItem", "module"),
    ("__main__.SlotItem", "module"),
    ("__main__.InlineItem", "module"),
    ("__main__.SubItem", "module"),
    ("__main__.ThreadItem", "thread"),
    ("__main__.CycleNode", None),
]


def refs_json(pid, typ, *extra):
    rc, out, err = heapwatch("refs", "--json", *(list(extra) + [pid, typ]))
    doc = json.loads(out) if out.strip().startswith("{") else None
    return rc, doc, err


def check_target(label, build):
    t = RefsTarget(build)
    try:
        counts = t.ask(b"c")["counts"]
        rc, doc, err = refs_json(t.pid, "xmpp.protocol.Iq")
        if rc != 0 and "need CPython" in err:
            R.skip(label, "the object model does not cover it: " + err.strip())
            return
        v = tuple(build.version[:2])
        if v < (3, 7):
            R.skip(label + " gc.freeze", "gc.freeze() is 3.7+: FrozenItem sits in a list "
                   "that is not frozen here")
        if v < (3, 11):
            R.skip(label + " inline values", "managed dicts and inline values are 3.11+: "
                   "InlineItem is held through an instance __dict__ here")
        if rc == 0 and doc is not None:
            # the graph reads nearly the whole heap: its copy is planned
            # from the resident pages, with no pre-walk
            R.check(label + " refs copies the resident heap", doc.get("plan") == "resident",
                    "plan %s" % doc.get("plan"))
            print("NOTE %s: plan %s, %d copies, %d bytes" %
                  (label, doc.get("plan"), doc["attempts"], doc["copied_bytes"]))
        modelled = None
        for typ, want_root in CASES:
            what = "%s refs %s" % (label, typ)
            rc, doc, err = refs_json(t.pid, typ)
            if rc != 0 or doc is None:
                R.bad(what, "rc %d: %s" % (rc, err.strip()))
                continue
            R.check(what + " instances", doc["instances"] == counts.get(typ, 0),
                    "heapwatch %d, gc.get_objects %d" % (doc["instances"], counts.get(typ, 0)))
            R.check(what + " target running after", t.state() in "RS", "state " + t.state())
            g = doc["graph"]
            if modelled is None:
                modelled = g["exact"] * 2 > g["objects"]
                print("NOTE %s: %d objects, %d references, %d exact, %d partial, %d opaque, "
                      "roots %s, pause %d us, graph %d KiB" %
                      (label, g["objects"], g["references"], g["exact"], g["partial"],
                       g["opaque"], g["roots"], doc["pause_us"], g["memory_bytes"] // 1024))
            if not modelled:
                # The object model knows no referents on this build yet:
                # only the plumbing can be checked.
                R.check(what + " says no root was reached",
                        all(not c["found"] or c["target"]["root"] for c in doc["chains"]),
                        json.dumps(doc["chains"])[:300])
                continue
            chains = doc["chains"]
            # stripped builds without debug files: instances of Python
            # classes are opaque, so chains through them cannot be found
            # (and heapwatch must say so, never invent one)
            opaque_instances = "opaque" in (g.get("instances") or "")
            R.check(what + " samples", len(chains) == min(3, doc["instances"]),
                    "%d chains" % len(chains))
            for c in chains:
                if want_root is None:
                    R.check(what + " has no root (garbage cycle)", not c["found"],
                            c.get("line") or "")
                    continue
                if not c["found"] and opaque_instances and typ not in (
                        "__main__.ThreadItem", "__main__.FrozenItem", "__main__.TupleItem",
                        "__main__.RegItem", "__main__.ClosureItem"):
                    R.check(what + " not found through opaque instances: said, with suspects",
                            c["suspects"] and not c["depth_cut"], json.dumps(c)[:300])
                    continue
                if not c["found"]:
                    R.bad(what + " chain found", "searched %d, suspects %s" %
                          (c["searched"], c["suspects"]))
                    continue
                root = c["steps"][0]["object"]
                R.check(what + " root kind", root["root_kind"] == want_root,
                        "%s (%s)" % (root["root"], root["root_kind"]))
                v = t.ask(b"v", {"steps": c["steps"], "root": root["root"],
                                 "root_kind": root["root_kind"]})
                R.check(what + " chain checked by the target (%d labels): %s" %
                        (v["labels_checked"], c["line"]), v["ok"], "; ".join(v["problems"]))
            if typ == "xmpp.protocol.Iq" and chains and chains[0]["found"] and not opaque_instances:
                print("NOTE %s xmpp chain: %s" % (label, chains[0]["line"]))
                for h in doc["holders"]:
                    print("NOTE %s   %d held by %s" % (label, h["instances"], h["held_by"]))
                top = doc["holders"][0]
                R.check(what + " holders: the _expected registry first",
                        top["instances"] == counts.get(typ, 0) - 2 and "_expected" in top["held_by"],
                        json.dumps(doc["holders"]))
        # a short name, an ambiguous one, an unknown one
        rc, doc, err = refs_json(t.pid, "Iq")
        R.check(label + " short name Iq", rc == 0 and doc and doc["type"] == "xmpp.protocol.Iq",
                "rc %d %s" % (rc, err.strip()))
        rc, doc, err = refs_json(t.pid, "Dup")
        R.check(label + " ambiguous Dup: exit 2 naming both", rc == 2 and "a.Dup" in err
                and "b.Dup" in err and err.count("\n") == 1, "rc %d: %r" % (rc, err))
        rc, doc, err = refs_json(t.pid, "NoSuchTypeAnywhere")
        R.check(label + " unknown type: exit 1, one line", rc == 1 and err.count("\n") == 1
                and "NoSuchTypeAnywhere" in err, "rc %d: %r" % (rc, err))
        # text output and the graph
        tmp = tempfile.mkdtemp(prefix="hw-refs-")
        try:
            dot = os.path.join(tmp, "g.dot")
            args = ["refs", "--dot", dot, t.pid, "xmpp.protocol.Iq"]
            svg = os.path.join(tmp, "g.svg")
            if shutil.which("dot"):
                args[1:1] = ["--svg", svg]
            rc, out, err = heapwatch(*args)
            R.check(label + " text output", rc == 0 and "held by" in out and "chain 1 of" in out,
                    "rc %d: %s %s" % (rc, out[:300], err))
            with open(dot) as f:
                d = f.read()
            R.check(label + " --dot writes a digraph", d.startswith("digraph") and "->" in d
                    or (not modelled and d.startswith("digraph")), d[:200])
            if shutil.which("dot"):
                with open(svg) as f:
                    R.check(label + " --svg", "<svg" in f.read())
            else:
                R.skip(label + " --svg", "Graphviz's dot is not installed")
        finally:
            shutil.rmtree(tmp)
        # leaking objects
        rc, out, err = heapwatch("dump", "--leaking", "--json", t.pid)
        try:
            leak = json.loads(out)
        except ValueError:
            leak = None
        R.check(label + " dump --leaking", rc == 0 and leak is not None and
                leak["leaking"] <= leak["graph"]["objects"], "rc %d: %s" % (rc, err.strip()))
        if leak and modelled and "opaque" not in (leak["graph"].get("instances") or ""):
            names = dict((x["name"], x["count"]) for x in leak["types"])
            R.check(label + " --leaking lists the garbage cycle's nodes? no: they refer to "
                    "each other", "__main__.CycleNode" not in names, json.dumps(names)[:300])
            R.check(label + " --leaking: no module or held registry listed",
                    "xmpp.protocol.Iq" not in names and "module" not in names,
                    json.dumps(names)[:300])
        R.check(label + " target running at the end", t.state() in "RS", t.state())
    finally:
        t.close()


def dying(label, build):
    """A target that exits while heapwatch works: a clean error or a result."""
    p = subprocess.Popen(build.prefix + [build.exe, "-c", "import time\n"
                         "x=[[i] for i in range(200000)]\ntime.sleep(0.3)"], env=build.env())
    try:
        pid = build.host_pid(p)
        time.sleep(0.15)
        rc, out, err = heapwatch("refs", pid, "list")
        ok = rc in (0, 1) and (rc == 0 or (err.count("\n") == 1 and str(pid) in err))
        R.check(label + " target exiting during refs: rc %d" % rc, ok, err.strip())
    finally:
        p.kill()
        p.wait()


CORRUPT = r"""
import ctypes, gc, os, sys
class Victim(object):
    pass
bad = [Victim(), Victim()]
gc.collect()
gc.disable()
# the list claims 2**40 items: its item array is far shorter
ctypes.c_ssize_t.from_address(id(bad) + 16).value = 1 << 40
sys.stdout.write("ready %d\n" % os.getpid())
sys.stdout.flush()
sys.stdin.read()
"""


def corrupt(build):
    """A heap whose list lies about its length: one clean line, exit 1, and
    the target still running."""
    p = subprocess.Popen(build.prefix + [build.exe, "-c", CORRUPT], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env=build.env())
    try:
        p.stdout.readline()
        pid = build.host_pid(p)
        rc, out, err = heapwatch("refs", pid, "Victim")
        R.check(build.label + " corrupt list: exit 1, one line naming it",
                rc == 1 and err.count("\n") == 1 and "list" in err and str(pid) in err,
                "rc %d: %r" % (rc, err))
        rc, out, err = heapwatch("dump", "--leaking", pid)
        R.check(build.label + " corrupt list: dump --leaking exit 1", rc == 1, "rc %d: %r" % (rc, err))
        with open("/proc/%d/stat" % pid) as f:
            st = f.read().rsplit(")", 1)[1].split()[0]
        R.check(build.label + " corrupt list: target running after", st in "RS", st)
    finally:
        p.kill()
        p.wait()


def limits(build):
    """The graph's memory budget and the pause budget: clear errors, or a
    result marked partial; the target running after."""
    p = subprocess.Popen(build.prefix + [build.exe, "-c", "import sys, time\n"
                         "x = [[i] for i in range(300000)]\nprint('ready')\n"
                         "sys.stdout.flush()\ntime.sleep(60)"],
                         stdout=subprocess.PIPE, env=build.env())
    try:
        p.stdout.readline()
        pid = build.host_pid(p)
        rc, out, err = heapwatch("refs", "--graph-limit", "1MiB", pid, "list")
        R.check(build.label + " --graph-limit 1MiB: exit 1, one line naming the limit",
                rc == 1 and err.count("\n") == 1 and "--graph-limit" in err, "rc %d: %r" % (rc, err))
        rc, out, err = heapwatch("refs", "--json", "--max-pause", "1us", pid, "list")
        ok = (rc == 0 and json.loads(out)["partial"]) or (rc == 1 and "--max-pause" in err)
        R.check(build.label + " --max-pause 1us: partial, or an error naming it (rc %d)" % rc,
                ok, "%r %r" % (out[:200], err))
        with open("/proc/%d/stat" % pid) as f:
            st = f.read().rsplit(")", 1)[1].split()[0]
        R.check(build.label + " limits: target running after", st in "RS", st)
    finally:
        p.kill()
        p.wait()


def usage():
    rc, out, err = heapwatch("refs", "1")
    R.check("refs without TYPE: exit 2", rc == 2 and "TYPE" in err, err)
    rc, out, err = heapwatch("refs", "--samples", "x", "1", "T")
    R.check("refs --samples x: exit 2", rc == 2 and "--samples" in err, err)
    rc, out, err = heapwatch("refs", "--graph-limit", "1KiB", "1", "T")
    R.check("refs --graph-limit 1KiB: exit 2", rc == 2 and "--graph-limit" in err, err)
    rc, out, err = heapwatch("refs", str(os.getpid()), "T")
    R.check("refs on a non-Python process: exit 1", rc == 1, err)
    rc, out, err = heapwatch("refs", "--help")
    R.check("refs --help", rc == 0 and "--max-depth" in out, out[:200])


usage()
for b in found:
    try:
        check_target(b.label, b)
        # one build per family is enough for the dying target (CI time)
        if b.label in ("debian-3.11", "pyenv-3.13.0") or b.label.startswith("sid-3.14"):
            dying(b.label, b)
        if b.label == "debian-3.11":
            corrupt(b)
            limits(b)
    except Exception as exc:  # one build's failure must not hide the others'
        R.bad(b.label, repr(exc))
R.exit()
