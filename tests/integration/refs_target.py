# refs_target.py - a CPython process holding known structures, for the
# tests of `heapwatch refs` and `dump --leaking`.  Runs on 2.7 and 3.6+.
#
# Each structure holds instances of its own class, so that `refs PID TYPE`
# asks about one structure:
#   xmpp.protocol.Iq        the xmpp shape: module xmpp.dispatcher's global
#                           _dispatcher, a Dispatcher whose _expected dict
#                           maps ids to Iq instances (issue 10)
#   __main__.ClosureItem    in a list captured by a closure (cell)
#   __main__.RegItem        in a class attribute list (Registry.items)
#   __main__.TupleItem      in a module-level tuple
#   __main__.CycleNode      a reference cycle nothing else holds (garbage
#                           kept because the collector is disabled)
#   __main__.FrozenItem     in a list frozen with gc.freeze() (3.7+)
#   __main__.SlotItem       in a __slots__ member
#   __main__.InlineItem     attributes of plain instances, one with its
#                           __dict__ materialised (3.11+: inline values)
#   __main__.SubItem        in instances of list and dict subclasses
#   __main__.ThreadItem     only a blocked thread's local holds it
#   a.Dup, b.Dup            two classes with one short name
#
# Protocol (stdin/stdout): "ready <pid>" when quiet (GC disabled, collected);
#   'c': counts of gc.get_objects() (+ permanent generation) per type, as
#        JSON, then "ready";
#   'v' + one JSON line {"steps": [...], "root": "...", "root_kind": "..."}
#        (a chain as `heapwatch refs --json` prints it): checks every step
#        against this process's own answers (id(), gc.get_referents,
#        gc.get_referrers, the edge label evaluated, the root) and prints
#        {"ok": bool, "problems": [...], "labels_checked": N}, then "ready";
#   'q' or EOF: exit.
import gc
import json
import os
import re
import sys
import threading
import types

PY3 = sys.version_info[0] >= 3
HEAPTYPE = 1 << 9
N_IQ = int(os.environ.get("REFS_N_IQ", "300"))


def tname(t):
    if t.__flags__ & HEAPTYPE:
        qual = t.__qualname__ if PY3 else t.__name__
        mod = t.__dict__.get("__module__")
        if isinstance(mod, str) and mod not in ("builtins", "__builtin__"):
            return mod + "." + qual
        return qual
    return t.__name__ if t.__module__ in ("builtins", "__builtin__") else t.__module__ + "." + t.__name__


def module(name):
    m = types.ModuleType(name)
    sys.modules[name] = m
    return m


# --- the xmpp shape ---
proto = module("xmpp.protocol")
dispmod = module("xmpp.dispatcher")
exec("class Iq(object):\n    def __init__(self, i):\n        self.id = i\n", proto.__dict__)
exec("class Dispatcher(object):\n    def __init__(self):\n        self._expected = {}\n",
     dispmod.__dict__)
dispmod._dispatcher = dispmod.Dispatcher()
for i in range(N_IQ):
    dispmod._dispatcher._expected[str(9394860 + i)] = proto.Iq(i)
# a second holder shape: a list kept by another Dispatcher's attribute
dispmod._backlog = dispmod.Dispatcher()
dispmod._backlog.pending = [proto.Iq(-1), proto.Iq(-2)]


class ClosureItem(object):
    pass


def make_closure():
    items = [ClosureItem(), ClosureItem()]

    def get():
        return items
    return get


closure = make_closure()


class RegItem(object):
    pass


class Registry(object):
    items = [RegItem() for _ in range(5)]


class TupleItem(object):
    pass


held_tuple = (TupleItem(), TupleItem(), 42)


class CycleNode(object):
    pass


def make_cycle():
    a, b = CycleNode(), CycleNode()
    a.other, b.other = b, a


class FrozenItem(object):
    pass


frozen = [FrozenItem() for _ in range(3)]


class SlotItem(object):
    pass


class Slotted(object):
    __slots__ = ("held", "__weakref__")


slotted = Slotted()
slotted.held = SlotItem()


class InlineItem(object):
    pass


class Plain(object):
    pass


plain_inline = Plain()
plain_inline.item = InlineItem()
plain_dict = Plain()
plain_dict.item = InlineItem()
plain_dict.__dict__          # materialise the dict (3.11+)


class SubItem(object):
    pass


class MyList(list):
    pass


class MyDict(dict):
    pass


sublist = MyList([SubItem()])
subdict = MyDict(k=SubItem())

amod = module("a")
bmod = module("b")
exec("class Dup(object):\n    pass\nx = Dup()\n", amod.__dict__)
exec("class Dup(object):\n    pass\nx = Dup()\n", bmod.__dict__)


class ThreadItem(object):
    pass


release = threading.Event()
started = threading.Event()


def thread_body():
    only_here = ThreadItem()
    started.set()
    release.wait()
    return only_here


worker = threading.Thread(target=thread_body, name="holder")
worker.daemon = True
worker.start()
started.wait()
thread_ident = worker.ident

gc.collect()
gc.disable()
make_cycle()        # after the collection, which would free it
if hasattr(gc, "freeze"):
    gc.freeze()


def by_id():
    if hasattr(gc, "get_freeze_count"):
        gc.unfreeze()
    objs = gc.get_objects()
    table = dict((id(o), o) for o in objs)
    for m in list(sys.modules.values()):
        table[id(m)] = m
    return table


LABEL_KEY = re.compile(r"^\['(.*)'\]$")
LABEL_INT = re.compile(r"^\[(-?\d+)\]$")
LABEL_ATTR = re.compile(r"^\.([A-Za-z_][A-Za-z0-9_]*)$")


def eval_label(a, label):
    """The object the label names inside a, or a reason it is not checked."""
    m = LABEL_KEY.match(label)
    if m and "..." not in label and "\\" not in label:
        key = m.group(1)
        if isinstance(a, dict):
            return ("ok", a[key])
        return ("skip", "key label on %s" % type(a).__name__)
    m = LABEL_INT.match(label)
    if m:
        i = int(m.group(1))
        if isinstance(a, dict):
            return ("ok", a[i] if i in a else a[str(i)])
        if isinstance(a, (list, tuple)):
            return ("ok", a[i])
        return ("skip", "index label on %s" % type(a).__name__)
    m = LABEL_ATTR.match(label)
    if m:
        name = m.group(1)
        if name == "__dict__":
            if isinstance(a, type):
                return ("skip", "a class's dict is not reachable from Python")
            return ("ok", a.__dict__)
        return ("ok", object.__getattribute__(a, name))
    return ("skip", "label %r not evaluated" % label)


def check_root(obj, root, kind, problems):
    m = re.match(r"^sys\.modules\['(.*)'\]$", root or "")
    if m:
        if sys.modules.get(m.group(1)) is not obj:
            problems.append("root %s is not sys.modules[%r]" % (root, m.group(1)))
        return
    m = re.match(r"^thread (\d+) frame (\S+) local '(.*)'$", root or "")
    if m:
        ident, func, local = int(m.group(1)), m.group(2), m.group(3)
        f = sys._current_frames().get(ident)
        while f is not None:
            name = getattr(f.f_code, "co_qualname", f.f_code.co_name)
            if name == func and f.f_locals.get(local) is obj:
                return
            f = f.f_back
        problems.append("root %s: no such local in thread %d" % (root, ident))
        return
    if root == "sys.modules":
        if sys.modules is not obj:
            problems.append("root sys.modules is not sys.modules")
        return
    if root == "sys.__dict__":
        if sys.__dict__ is not obj:
            problems.append("root sys.__dict__ is not sys.__dict__")
        return
    problems.append("root %r (%s) not checked" % (root, kind))


def verify(doc):
    table = by_id()
    problems = []
    labels = 0
    steps = doc["steps"]
    objs = []
    for s in steps:
        o = table.get(s["object"]["address"])
        if o is None:
            problems.append("no GC object at %#x" % s["object"]["address"])
            return problems, labels
        if tname(type(o)) != s["object"]["type"]:
            problems.append("object %#x is a %s, not %s" % (id(o), tname(type(o)), s["object"]["type"]))
        objs.append(o)
    check_root(objs[0], doc.get("root"), doc.get("root_kind"), problems)
    for i in range(1, len(objs)):
        a, b = objs[i - 1], objs[i]
        if steps[i].get("synthetic"):
            # 3.13+: a materialised __dict__ while the inline values are
            # valid; gc.get_referents does not report it, __dict__ is it
            if getattr(a, "__dict__", None) is not b:
                problems.append("step %d: synthetic edge: %#x.__dict__ is not %#x" %
                                (i, id(a), id(b)))
            continue
        if not any(r is b for r in gc.get_referents(a)):
            problems.append("step %d: %s %#x does not refer to %s %#x" %
                            (i, tname(type(a)), id(a), tname(type(b)), id(b)))
        if not any(r is a for r in gc.get_referrers(b)):
            problems.append("step %d: gc.get_referrers misses %#x" % (i, id(a)))
        try:
            how, what = eval_label(a, steps[i]["edge"])
        except Exception as exc:   # a label that names nothing
            problems.append("step %d: label %r: %r" % (i, steps[i]["edge"], exc))
            continue
        if how == "ok":
            labels += 1
            if what is not b:
                problems.append("step %d: label %r names %s, not %#x" %
                                (i, steps[i]["edge"], type(what).__name__, id(b)))
    return problems, labels


sys.stdout.write("ready %d %d\n" % (os.getpid(), thread_ident))
sys.stdout.flush()
while True:
    cmd = os.read(0, 1)
    if cmd == b"c":
        if hasattr(gc, "get_freeze_count"):
            gc.unfreeze()
        counts = {}
        for n in map(tname, map(type, gc.get_objects())):
            counts[n] = counts.get(n, 0) + 1
        sys.stdout.write(json.dumps({"counts": counts}) + "\n")
        del counts
        if hasattr(gc, "freeze"):
            gc.freeze()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
    elif cmd == b"v":
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = os.read(0, 65536)
            if not chunk:
                break
            buf += chunk
        problems, labels = verify(json.loads(buf.decode("utf-8")))
        sys.stdout.write(json.dumps({"ok": not problems, "problems": problems,
                                     "labels_checked": labels}) + "\n")
        del problems, labels, buf
        if hasattr(gc, "freeze"):
            gc.freeze()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
    else:
        release.set()
        break
