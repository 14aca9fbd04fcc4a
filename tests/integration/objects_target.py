# objects_target.py - a CPython 2.7 or 3.6+ process holding the structures of
# issue 10's test list, which dumps, for every object gc.get_objects()
# returns, its id, type name, sys.getsizeof and the ids of
# gc.get_referents(), then waits to be read from outside.
#
# Usage: python objects_target.py OUT.json
# Protocol: prints "ready" on stdout once OUT.json is written, then
# blocks on stdin; "q" or EOF ends it.
#
# Two phases keep gc.freeze() honest: phase A is built, dumped and
# frozen (gc.get_objects() no longer lists frozen objects), phase B is
# built and dumped after.  Nothing dumped is mutated afterwards: all
# state lives in the modules _hw_a and _hw_b and in main()'s locals.
import collections
import functools
import gc
import json
import sys
import types
import weakref



def tname(t):
    mod = t.__module__ if isinstance(getattr(t, "__module__", None), str) else None
    q = getattr(t, "__qualname__", t.__name__)
    if mod in (None, "builtins", "__builtin__"):
        return q
    return mod + "." + q


def interned(o):
    # the interpreter's interned strings (a GC dict from 3.12 on): phase
    # B interns more names
    if type(o) is not dict or len(o) < 100:
        return False
    for k, v in list(o.items())[:100]:
        if k is not v or type(k) is not str:
            return False
    return True


def subclass_registry(o):
    # a type's tp_subclasses: {address: weakref to a subclass} (2.7: a
    # list of weakrefs).  Phase B makes classes, which adds to the
    # registries of their (phase A or static) bases: those are skipped in
    # phase A.
    if type(o) is list and sys.version_info[0] == 2 and o:
        return all(type(v) is weakref.ref and isinstance(v(), type) for v in o)
    if type(o) is not dict or not o:
        return False
    for v in o.values():
        if type(v) is not weakref.ref or not isinstance(v(), type):
            return False
    return True


def dump(records, skip, registries=True):
    for o in gc.get_objects():
        i = id(o)
        if i in skip or (not registries and (subclass_registry(o) or interned(o))):
            continue
        try:
            size = sys.getsizeof(o)
        except Exception:
            size = -1
        records.append([i, tname(type(o)), size, [id(r) for r in gc.get_referents(o)]])


# ---------------------------------------------------------------- phase A
def build_a(ns):
    # the xmpp `_expected` registry shape, in a module of its own
    disp_mod = types.ModuleType("xmpp_dispatcher")

    class Iq(object):
        def __init__(self, n):
            self.id = "id-%d" % n
            self.payload = [n]

    class Dispatcher(object):
        def __init__(self):
            self._expected = {}

    d = Dispatcher()
    for n in range(20):
        d._expected[str(9394860 + n)] = Iq(n)
    disp_mod.Iq = Iq
    disp_mod.Dispatcher = Dispatcher
    disp_mod._dispatcher = d
    sys.modules["xmpp_dispatcher"] = disp_mod
    ns.frozen_list = [object(), [1, 2], {"k": (1, 2)}]
    ns.frozen_cycle = []
    ns.frozen_cycle.append(ns.frozen_cycle)


# ---------------------------------------------------------------- phase B
def build_b(ns):
    # classes are made here, not at import: phase A is dumped and frozen
    # before, and nothing it holds may change after
    class Plain(object):
        pass


    class WithSlots(object):
        __slots__ = ("a", "b", "__weakref__")


    class SubSlots(WithSlots):
        __slots__ = ("c",)


    class SlotsAndDict(object):
        __slots__ = ("s", "__dict__")


    class L(list):
        pass


    class D(dict):
        pass


    class I(int):
        pass


    class T(tuple):
        pass


    class Exc(Exception):
        pass


    class Q(collections.deque):
        pass


    class Meta(type):
        pass


    WithMeta = Meta("WithMeta", (object,), {"x": 1})   # 2.7 and 3.x alike


    class Registry(object):
        items = []           # a class attribute list

        @property
        def p(self):
            return 1

        @classmethod
        def cm(cls):
            return cls

        @staticmethod
        def sm():
            return 2

        def method(self):
            return 3


    def make_closure(captured):
        def inner():
            return captured
        return inner


    def gen_fn(x):
        y = [x]
        yield y
        yield x


    if sys.version_info >= (3, 6):
        scope = {}
        exec("async def coro_fn(x):\n    return x\n\n"
             "async def agen_fn(x):\n    yield x\n", scope)
        ns.coro = scope["coro_fn"](1)
        ns.agen = scope["agen_fn"](2)
    else:
        # 2.7: old-style classes, their instances, bound and unbound
        # instancemethods, int, long and unicode keys
        class Old:
            attr = [1]

            def m(self):
                return 1

        ns.old_class = Old
        ns.old = Old()
        ns.old.x = [2]
        ns.old_bound = ns.old.m
        ns.old_unbound = Old.m
        ns.int_keys = {1: [1], long(10 ** 15): [2], 2 ** 70: [4]}  # noqa: F821
        ns.bool_keys = {True: [3]}
        ns.unicode_keys = {u"u": [1]}


    def fail(arg):
        local_request = {"request": arg}
        raise ValueError(local_request)


    ns.plain = Plain()
    ns.plain.a = [1]
    ns.plain.b = "two"
    ns.plain_materialised = Plain()
    ns.plain_materialised.a = [2]
    ns.plain_materialised.__dict__["c"] = 3      # materialises the dict
    ns.many_attrs = Plain()
    for k in range(40):
        setattr(ns.many_attrs, "attr%d" % k, [k])
    ns.slots = SubSlots()
    ns.slots.a = [1]
    ns.slots.c = (1, 2)
    ns.slots_dict = SlotsAndDict()
    ns.slots_dict.s = [3]
    ns.slots_dict.x = {"y": 1}
    ns.l = L([1, [2]])
    ns.l.extra = 1
    ns.d = D(a=[1])
    ns.i = I(5)
    ns.i.x = [1]
    ns.t = T(([1], 2))
    ns.exc = Exc("x")
    ns.q = Q([[1], 2])                  # subclass of an opaque C type
    ns.meta = WithMeta()
    ns.closure = make_closure([1, 2, 3])
    ns.tuple = ([1], (2, [3]), "s")
    ns.cycle = {}
    ns.cycle["self"] = ns.cycle
    ns.registry = Registry()
    Registry.items.append(ns.registry)
    ns.bound = ns.registry.method
    ns.general = {1: [1], (2, 3): [2], "s": [3]}
    ns.unicode = {"a": [1], "b": [2]}
    ns.s = set([(1, 2), (3, 4), "x"])
    ns.big_set = set(range(100))
    ns.fs = frozenset([(5, 6)])
    ns.gen = gen_fn([7])
    next(ns.gen)                        # suspended with locals
    ns.fresh_gen = gen_fn(8)            # never started
    ns.wr_target = Plain()
    ns.wr = weakref.ref(ns.wr_target, lambda r: None)
    ns.partial = functools.partial(max, [1], key=len)

    class P(functools.partial):
        pass

    ns.partial_sub = P(min, [2])
    ns.partial_sub.attr = [3]
    ns.slice = slice([1], (2,), None)
    ns.long_deque = collections.deque(([i] for i in range(200)), maxlen=150)
    ns.od = collections.OrderedDict(a=[1])
    ns.dd = collections.defaultdict(list, a=[1])
    if hasattr(types, "SimpleNamespace"):
        ns.sn = types.SimpleNamespace(a=[1])
    ns.bytearray = bytearray(b"x" * 100)
    ns.module_func = make_closure
    try:
        fail([42])
    except ValueError as e:
        ns.stored_exc = e               # with __traceback__ and a dead frame
    ns.str_keys = {"x" * 50: 1, "quote'd": 2}


def main():
    out_path = sys.argv[1]
    # the modules are made here: 3.14+ tracks every dict, so a module
    # made at import would be dumped in phase A and changed in phase B
    A = types.ModuleType("_hw_a")
    sys.modules["_hw_a"] = A
    build_a(A)
    gc.collect()
    records = []
    skip = set()
    f = sys._getframe()
    while f is not None:                # executing frames change under us
        skip.add(id(f))
        f = f.f_back
    dump(records, skip, registries=False)
    frozen_ids = set(r[0] for r in records)
    records = json.dumps(records)       # one str: no GC objects left over
    if hasattr(gc, "freeze"):
        gc.freeze()
    B = types.ModuleType("_hw_b")      # not in sys.modules: dumped in A
    build_b(B)
    gc.collect()
    more = []
    dump(more, skip | frozen_ids)
    records = json.loads(records) + more
    marks = {
        "xmpp_module": id(sys.modules["xmpp_dispatcher"]),
        "dispatcher": id(sys.modules["xmpp_dispatcher"]._dispatcher),
        "expected": id(sys.modules["xmpp_dispatcher"]._dispatcher._expected),
        "plain": id(B.plain), "plain_a": id(B.plain.a),
        "slots": id(B.slots), "slots_a": id(B.slots.a),
        "closure": id(B.closure), "closure_list": id(B.closure.__closure__[0].cell_contents),
        "registry_class": id(type(B.registry)), "registry_items": id(type(B.registry).items),
        "tuple": id(B.tuple), "general": id(B.general),
        "b_module": id(B),
    }
    if hasattr(B, "old"):
        marks.update(old=id(B.old), old_class=id(B.old_class), old_attr=id(B.old_class.attr),
                     old_bound=id(B.old_bound), int_keys=id(B.int_keys),
                     bool_keys=id(B.bool_keys))
    doc = {"python": "%d.%d.%d" % sys.version_info[:3], "records": records,
           "skip": sorted(skip), "marks": marks,
           "frozen": len(frozen_ids) if hasattr(gc, "freeze") else 0}
    with open(out_path, "w") as fh:
        json.dump(doc, fh)
    del records, more, doc, frozen_ids
    gc.collect()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    # "r ID ID ..." asks again, after heapwatch read us, for the size and
    # referents of objects whose answers differed: the interpreter may
    # have changed them since the dump
    while True:
        line = sys.stdin.readline()
        if not line or line.startswith("q"):
            break
        if line.startswith("r "):
            want = set(int(x) for x in line.split()[1:])
            now = {}
            for o in gc.get_objects():
                if id(o) in want:
                    now[str(id(o))] = [sys.getsizeof(o), [id(r) for r in gc.get_referents(o)]]
            sys.stdout.write(json.dumps(now) + "\n")
            sys.stdout.flush()


main()
