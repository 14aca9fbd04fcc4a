# bench_refs_target.py - a CPython process with N GC-tracked objects, an
# xmpp-shaped registry (module xmpp.dispatcher, Dispatcher._expected
# mapping ids to xmpp.protocol.Iq instances) and a ticker thread that
# measures the longest gap between its ticks: the pause as the target saw
# it.  For `make bench` (bench_refs.py).  Python 3.6+.
# Args: --objects N --iq K
# Commands (one byte on stdin): 'r' reset the ticker's max gap, 'm' print
# it (microseconds), 'o' time objgraph's find_backref_chain and
# show_backrefs for one Iq in this process and print both (wall ms), the
# chain's length and both again as this thread's CPU ms, 'q' quit.
import gc
import os
import sys
import tempfile
import threading
import time
import types

args = sys.argv[1:]
N = int(args[args.index("--objects") + 1]) if "--objects" in args else 1000000
K = int(args[args.index("--iq") + 1]) if "--iq" in args else 2000


class Node(object):
    __slots__ = ("v", "next")

    def __init__(self, v):
        self.v = v
        self.next = None


class Rec(object):
    def __init__(self, i):
        self.i = i
        self.name = "r"


proto = types.ModuleType("xmpp.protocol")
dispmod = types.ModuleType("xmpp.dispatcher")
sys.modules["xmpp.protocol"] = proto
sys.modules["xmpp.dispatcher"] = dispmod
exec("class Iq(object):\n    def __init__(self, i):\n        self.id = i\n", proto.__dict__)
exec("class Dispatcher(object):\n    def __init__(self):\n        self._expected = {}\n",
     dispmod.__dict__)
dispmod._dispatcher = dispmod.Dispatcher()
for i in range(K):
    dispmod._dispatcher._expected[str(9394860 + i)] = proto.Iq(i)

heap = []
for i in range((N - 2 * K) // 3):
    heap.append([i])
    heap.append(Node(i))
    heap.append(Rec(i))

gap = [0.0]


def ticker():
    last = time.perf_counter()
    while True:
        time.sleep(0.001)
        now = time.perf_counter()
        if now - last > gap[0]:
            gap[0] = now - last
        last = now


t = threading.Thread(target=ticker)
t.daemon = True
t.start()
gc.collect()
gc.disable()
sys.stdout.write("ready %d %d\n" % (os.getpid(), len(gc.get_objects())))
sys.stdout.flush()


def objgraph_times():
    import inspect
    import objgraph

    iq = dispmod._dispatcher._expected[str(9394860 + K // 2)]

    def is_proper_module(obj):
        return inspect.ismodule(obj) and obj is sys.modules.get(getattr(obj, "__name__", None))
    t0, c0 = time.perf_counter(), time.thread_time()
    chain = objgraph.find_backref_chain(iq, is_proper_module)
    t1, c1 = time.perf_counter(), time.thread_time()
    fd, path = tempfile.mkstemp(suffix=".dot")
    os.close(fd)
    try:
        with open(os.devnull, "w") as null:
            old = sys.stdout
            sys.stdout = null          # objgraph prints "Graph written to ..."
            try:
                objgraph.show_backrefs([iq], max_depth=3, filename=path)
            finally:
                sys.stdout = old
    finally:
        os.unlink(path)
    t2, c2 = time.perf_counter(), time.thread_time()
    return (t1 - t0) * 1000, (t2 - t1) * 1000, len(chain), (c1 - c0) * 1000, (c2 - c1) * 1000


while True:
    c = os.read(0, 1)
    if c == b"r":
        gap[0] = 0.0
        sys.stdout.write("ok\n")
    elif c == b"m":
        sys.stdout.write("%d\n" % int(gap[0] * 1e6))
    elif c == b"o":
        try:
            chain_ms, show_ms, n, chain_cpu, show_cpu = objgraph_times()
            sys.stdout.write("%.1f %.1f %d %.1f %.1f\n" % (chain_ms, show_ms, n, chain_cpu, show_cpu))
        except ImportError:
            sys.stdout.write("none\n")
    else:
        break
    sys.stdout.flush()
