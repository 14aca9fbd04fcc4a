# target.py - a CPython process holding known objects, for heapwatch tests.
# Runs on 2.7 and 3.6+.  Protocol (stdin/stdout, one byte per command):
#   prints "ready <pid>" when its heap is quiet (GC disabled, collected);
#   'c': counts its own gc.get_objects() (plus the permanent generation)
#        per type and prints one JSON line, then "ready" again;
#   'g': allocates GROW more Marker objects, then "ready" again;
#   'q': exits.
# The commands run at module level on purpose: before 3.11 a function
# call creates a tracked frame object, which would be counted but was not
# there when heapwatch looked.
import collections
import ctypes
import gc
import json
import os
import sys
import threading

FREEZE = "--freeze" in sys.argv
THREADS = 0
GROW = 500
for a in sys.argv[1:]:
    if a.startswith("--threads="):
        THREADS = int(a.split("=", 1)[1])
    if a.startswith("--grow="):
        GROW = int(a.split("=", 1)[1])

# tp_name sits right after the PyVarObject header of the type object.
TP_NAME_OFF = object.__basicsize__ + 8
HEAPTYPE = 1 << 9


def tname(t):
    if t.__flags__ & HEAPTYPE:
        qual = t.__qualname__ if sys.version_info[0] >= 3 else t.__name__
        mod = t.__dict__.get("__module__")
        if isinstance(mod, str) and mod not in ("builtins", "__builtin__"):
            return mod + "." + qual
        return qual
    raw = ctypes.c_char_p.from_address(id(t) + TP_NAME_OFF).value
    return raw.decode("utf-8", "replace") if not isinstance(raw, str) else raw


class Marker(object):
    pass


class Outer(object):
    class Inner(object):
        pass


class Renamed(object):
    pass


Renamed.__module__ = "some.other.module"
Renamed.__qualname__ = "Elsewhere.Renamed"
if sys.version_info[0] >= 3:
    exec("class \u00c9t\u00e9\u4e2d(object):\n    pass\n")
    Unicode = globals()["\u00c9t\u00e9\u4e2d"]
else:
    Unicode = Marker


class Slotted(object):
    __slots__ = ("a", "b")


class MyDict(dict):
    pass


markers = [Marker() for _ in range(1234)]
inners = [Outer.Inner() for _ in range(77)]
renamed = [Renamed() for _ in range(33)]
uni = [Unicode() for _ in range(21)]
slotted = []
for i in range(45):
    s = Slotted()
    s.a = s
    slotted.append(s)
selfref = []
for i in range(50):
    l = []
    l.append(l)
    selfref.append(l)
ods = [collections.OrderedDict(a=[i]) for i in range(19)]
mydicts = [MyDict(x=[i]) for i in range(23)]
events = [threading.Event() for _ in range(THREADS)]
threads = [threading.Thread(target=ev.wait) for ev in events]
for t in threads:
    t.daemon = True
    t.start()
grown = []

gc.collect()
gc.disable()
if FREEZE:
    gc.freeze()
sys.stdout.write("ready %d\n" % os.getpid())
sys.stdout.flush()
while True:
    cmd = os.read(0, 1)
    if cmd == b"c":
        if FREEZE or hasattr(gc, "get_freeze_count"):
            # The permanent generation (gc.freeze(), and 3.12's own
            # start-up objects) is invisible to get_objects(): bring it
            # back into gen2 first.  No object is created by this.
            gc.unfreeze()
        objs = gc.get_objects()
        counts = {}
        # Never bind the objects to a (module-level) name: loading a
        # lazy_import object (3.15, PEP 810) from globals reifies it, and
        # type() would then see the module it stands for.
        for n in map(tname, map(type, objs)):
            counts[n] = counts.get(n, 0) + 1
        total = len(objs)
        del objs
        line = json.dumps({"pid": os.getpid(), "total": total,
                           "python": "%d.%d.%d" % sys.version_info[:3],
                           "counts": counts})
        sys.stdout.write(line + "\n")
        del counts, line
        gc.collect()
        if FREEZE:
            gc.freeze()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
    elif cmd == b"g":
        grown.extend(Marker() for _ in range(GROW))
        gc.collect()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
    else:
        break
for ev in events:
    ev.set()
