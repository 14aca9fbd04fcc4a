# sizes_target.py - a CPython process with known classes and containers
# that answers, on request, its own count and sum(sys.getsizeof(o)) per
# type over gc.get_objects(), for `heapwatch dump --sizes` to be held
# against.
#
# Protocol: prints "ready"; then each line "s" on stdin is answered with
# one JSON line {"types": {name: [count, bytes]}, "materialised": N,
# "instances": M}; "q" or EOF ends it.
import gc
import json
import sys


def tname(t):
    mod = t.__module__ if isinstance(getattr(t, "__module__", None), str) else None
    q = getattr(t, "__qualname__", t.__name__)
    if mod in (None, "builtins", "__builtin__"):
        return q
    return mod + "." + q


class Session(object):
    def __init__(self, i):
        self.id = i
        self.payload = [i, str(i)]
        self.meta = {"k": i}


class Slotted(object):
    __slots__ = ("a", "b")


class Wide(object):
    pass


MATERIALISED = 7
registry = {}
for i in range(300):
    registry[i] = Session(i)
for i in range(MATERIALISED):
    registry[i].__dict__                 # a dict object from here on
slotted = [Slotted() for _ in range(50)]
for s in slotted:
    s.a = (s,)
wide = Wide()
for i in range(40):                      # past the inline values
    setattr(wide, "a%d" % i, i)
tuples = [(i, [i]) for i in range(100)]
sets = [set([i, (i,)]) for i in range(30)] + [frozenset([(1, 2)])]


def answer():
    objs = gc.get_objects()             # before anything of our own
    sums = {}
    for o in objs:
        row = sums.setdefault(tname(type(o)), [0, 0])
        row[0] += 1
        row[1] += sys.getsizeof(o)
    return {"types": sums, "materialised": MATERIALISED, "instances": len(registry)}


# One answer before heapwatch reads us: the first changes the heap (2.7
# readies static types on their first sys.getsizeof, adding weakrefs to
# their bases' subclass lists), the garbage it leaves is collected here.
json.dumps(answer())
gc.collect()
gc.disable()
sys.stdout.write("ready\n")
sys.stdout.flush()
while True:
    line = sys.stdin.readline()
    if not line or line.startswith("q"):
        break
    if line.startswith("s"):
        doc = json.dumps(answer())
        sys.stdout.write(doc + "\n")
        sys.stdout.flush()
