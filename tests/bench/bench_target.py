# bench_target.py - a CPython process with N GC-tracked objects and a
# ticker thread that measures the longest gap between its ticks: the
# pause as the target itself saw it.  Python 3.6+.
# Args: --objects N --threads T --freeze --payload-mb M
# Commands on stdin (one byte): 'r' reset the ticker's max gap, 'm' print
# it (microseconds), 'c' time in-process censuses (objgraph.typestats,
# a Counter over type names, the lean inlined loop; medians of 5) and
# print them, 'q' quit.
import gc
import os
import sys
import threading
import time
from collections import Counter

args = sys.argv[1:]
N = int(args[args.index("--objects") + 1]) if "--objects" in args else 100000
T = int(args[args.index("--threads") + 1]) if "--threads" in args else 0
PAYLOAD_MB = int(args[args.index("--payload-mb") + 1]) if "--payload-mb" in args else 0
FREEZE = "--freeze" in args


class Node(object):
    __slots__ = ("v", "next")

    def __init__(self, v):
        self.v = v
        self.next = None


class Rec(object):
    def __init__(self, i):
        self.i = i
        self.name = "r"


# A mix like an application's: small lists, __slots__ instances, plain
# instances (one GC object each; their attribute values are not tracked).
heap = []
for i in range(N // 3):
    heap.append([i])
    heap.append(Node(i))
    heap.append(Rec(i))
payload = []
if PAYLOAD_MB:
    # half bytes, half str, in 1 MiB pieces: memory the census never reads
    for i in range(PAYLOAD_MB):
        payload.append(os.urandom(1 << 20) if i % 2 else ("x%07d" % i) * (1 << 17))

stop = threading.Event()
idle = [threading.Event() for _ in range(T)]
for ev in idle:
    threading.Thread(target=ev.wait, daemon=True).start()

state = {"max": 0.0}


def ticker():
    last = time.perf_counter()
    while not stop.is_set():
        time.sleep(0.0002)
        now = time.perf_counter()
        if now - last > state["max"]:
            state["max"] = now - last
        last = now


threading.Thread(target=ticker, daemon=True).start()
gc.collect()
gc.disable()
if FREEZE:
    gc.freeze()


# The baseline the issue names: objgraph's own typestats(), from Debian's
# python3-objgraph (pure Python, loaded by path into any CPython 3).
try:
    sys.path.append("/usr/lib/python3/dist-packages")
    import objgraph
    sys.path.pop()
    HAVE_OBJGRAPH = True
except ImportError:
    HAVE_OBJGRAPH = False


def typestats():
    if HAVE_OBJGRAPH:
        return objgraph.typestats(shortnames=True)
    return lean()


def lean():
    # the leanest in-process loop: objgraph's, inlined
    stats = {}
    for o in gc.get_objects():
        n = type(o).__name__
        stats[n] = stats.get(n, 0) + 1
    return stats


def counter():
    return Counter(type(o).__name__ for o in gc.get_objects())


def median_ms(f, k=5):
    ts = []
    for _ in range(k):
        t = time.perf_counter()
        f()
        ts.append((time.perf_counter() - t) * 1000)
    ts.sort()
    return ts[len(ts) // 2]


sys.stdout.write("ready %d %d\n" % (os.getpid(), len(gc.get_objects())))
sys.stdout.flush()
while True:
    c = sys.stdin.read(1)
    if c == "r":
        time.sleep(0.05)
        state["max"] = 0.0
        sys.stdout.write("ok\n")
    elif c == "m":
        sys.stdout.write("%d\n" % int(state["max"] * 1e6))
    elif c == "c":
        if FREEZE:
            gc.unfreeze()   # in-process counting cannot see the permanent generation
        sys.stdout.write("%.3f %.3f %.3f\n" % (median_ms(typestats), median_ms(counter), median_ms(lean)))
        if FREEZE:
            gc.freeze()
    else:
        break
    sys.stdout.flush()
stop.set()
