# bench_refs.py - `heapwatch refs` on a 1M-object heap: the target's pause
# and of `dump --sizes` beside the census's pause and its copy floor, the wall time beside
# in-process objgraph.find_backref_chain and show_backrefs (Debian's
# python3-objgraph) on the same heap, and heapwatch's peak memory.
# Figures, not thresholds: medians of BENCH_RUNS runs (default 3).
# Needs Debian's python3.11 (objgraph is installed for it) with its debug
# files (python3.11-dbg); BENCH_REFS_OBJECTS changes the heap size.
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtarget import Target  # noqa: E402

HW = sys.argv[1] if len(sys.argv) > 1 else "build/heapwatch"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
OBJECTS = int(os.environ.get("BENCH_REFS_OBJECTS", "1000000"))
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3.11"


def run(args):
    """heapwatch args: (JSON document, wall ms, CPU ms)."""
    before = os.times()
    t = time.perf_counter()
    p = subprocess.run([HW] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = (time.perf_counter() - t) * 1000
    after = os.times()
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode().strip())
    cpu = ((after.children_user - before.children_user) +
           (after.children_system - before.children_system)) * 1000
    doc = json.loads(p.stdout.decode())
    doc["_cpu_ms"] = cpu
    return doc, wall


def peak_rss_mb(args):
    """Peak RSS of one heapwatch run, from wait4."""
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.execv(HW, [HW] + args)
    _, status, ru = os.wait4(pid, 0)
    return ru.ru_maxrss / 1024.0


def med(xs):
    return statistics.median(xs)


def main():
    if not os.access(PY, os.X_OK):
        print("bench_refs: %s missing: skipped" % PY)
        return 0
    t = Target(PY, "bench_refs_target.py", ["--objects", str(OBJECTS)])
    try:
        census, refs, sizes = [], [], []
        run(["dump", "--json", str(t.pid)])              # warm the DWARF cache
        for _ in range(RUNS):
            t.cmd("r")
            doc, wall = run(["dump", "--json", "--measure-floor", str(t.pid)])
            census.append((int(t.cmd("m")), doc, wall))
            t.cmd("r")
            doc, wall = run(["refs", "--json", str(t.pid), "xmpp.protocol.Iq"])
            refs.append((int(t.cmd("m")), doc, wall))
            t.cmd("r")
            doc, wall = run(["dump", "--json", "--sizes", str(t.pid)])
            sizes.append((int(t.cmd("m")), doc, wall))
        rss = peak_rss_mb(["refs", str(t.pid), "xmpp.protocol.Iq"])
        og = t.cmd("o").split()
    finally:
        t.close()
    d = refs[0][1]
    print("bench_refs: python 3.11 (Debian), %d GC objects, %d references, %d instances of "
          "xmpp.protocol.Iq; medians of %d runs" %
          (d["graph"]["objects"], d["graph"]["references"], d["instances"], RUNS))
    print("  chain: %s" % (d["chains"][0]["line"] if d["chains"] and d["chains"][0]["found"] else "none"))
    print("%-28s %10s %10s %10s %10s %10s" % ("", "pause", "stopped", "copiedMB", "floor", "wall"))
    print("%-28s %8.2fms %8.2fms %10.1f %8.2fms %8.0fms" % (
        "dump (census)", med([c[0] / 1000.0 for c in census]),
        med([c[1]["pause_us"] / 1000.0 for c in census]),
        med([c[1]["copied_bytes"] / 1048576.0 for c in census]),
        med([c[1].get("floor_us", 0) / 1000.0 for c in census]),
        med([c[2] for c in census])))
    print("%-28s %8.2fms %8.2fms %10.1f %10s %8.0fms" % (
        "refs", med([r[0] / 1000.0 for r in refs]),
        med([r[1]["pause_us"] / 1000.0 for r in refs]),
        med([r[1]["copied_bytes"] / 1048576.0 for r in refs]), "",
        med([r[2] for r in refs])))
    print("%-28s %8.2fms %8.2fms %10.1f %10s %8.0fms" % (
        "dump --sizes", med([r[0] / 1000.0 for r in sizes]),
        med([r[1]["pause_us"] / 1000.0 for r in sizes]),
        med([r[1]["copied_bytes"] / 1048576.0 for r in sizes]), "",
        med([r[2] for r in sizes])))
    print("  refs: graph built and queried in %.0f ms after the target resumed; graph arrays "
          "%.1f MiB; heapwatch peak RSS %.0f MiB" % (
              med([r[1]["job_us"] / 1000.0 for r in refs]),
              med([r[1]["graph"]["memory_bytes"] / 1048576.0 for r in refs]), rss))
    print("  CPU: census %.0f ms, refs %.0f ms (heapwatch's own, user + system)" % (
        med([c[1]["_cpu_ms"] for c in census]), med([r[1]["_cpu_ms"] for r in refs])))
    g = lambda k: med([r[1]["graph"][k] / 1000.0 for r in refs])
    job = med([r[1]["job_us"] / 1000.0 for r in refs])
    print("  refs time by phase (ms): the job over the copy %.0f = walk %.0f + references %.0f "
          "+ roots %.0f + query %.0f; the rest of its CPU (%.0f ms: attach, layout from "
          "DWARF, plan, copy, output) before and after; plan: %s" % (
              job, g("walk_us"), g("references_us"), g("roots_us"), g("query_us"),
              med([r[1]["_cpu_ms"] - r[1]["job_us"] / 1000.0 for r in refs]),
              d.get("plan", "not reported")))
    print("  refs pause / census pause: %.2f; dump --sizes pause / census pause: %.2f" % (
        med([r[0] for r in refs]) / max(1, med([c[0] for c in census])),
        med([r[0] for r in sizes]) / max(1, med([c[0] for c in census]))))
    if og and og[0] != "none":
        chain_ms, show_ms = float(og[0]), float(og[1])
        chain_cpu, show_cpu = float(og[3]), float(og[4])
        w = med([r[2] for r in refs])
        c = med([r[1]["_cpu_ms"] for r in refs])
        print("  in-process objgraph (the target stopped for the whole call): "
              "find_backref_chain %.0f ms wall / %.0f ms CPU (chain of %s), "
              "show_backrefs %.0f ms wall / %.0f ms CPU" %
              (chain_ms, chain_cpu, og[2], show_ms, show_cpu))
        print("  refs / find_backref_chain: wall %.2f, CPU %.2f; refs / show_backrefs: "
              "wall %.2f, CPU %.2f" % (w / chain_ms, c / chain_cpu, w / show_ms, c / show_cpu))
    else:
        print("  objgraph: not installed for %s (python3-objgraph)" % PY)
    return 0


if __name__ == "__main__":
    sys.exit(main())
