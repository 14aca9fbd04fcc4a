# bench.py - heapwatch's pause and cost against in-process counting and
# against the floor (a bulk copy of the same bytes), in one run on this
# machine.  Prints a table; every figure is a median of RUNS runs.
import json
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtarget import Target  # noqa: E402

HW = sys.argv[1] if len(sys.argv) > 1 else "build/heapwatch"
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
HERE = os.path.dirname(os.path.abspath(__file__))
PYENV = os.path.expanduser("~/.pyenv/versions")


def pythons():
    out = []
    for minor in os.environ.get("BENCH_PYTHONS", "3.11,3.12").split(","):
        cands = sorted(d for d in os.listdir(PYENV) if d.startswith(minor + ".")) if os.path.isdir(PYENV) else []
        if cands:
            out.append((minor, os.path.join(PYENV, cands[-1], "bin", "python" + minor)))
        elif minor == "3.11" and os.path.exists("/usr/bin/python3.11"):
            out.append((minor, "/usr/bin/python3.11"))
    return out


SCENARIOS = [
    ("100k", ["--objects", "100000"]),
    ("1M", ["--objects", "1000000"]),
    ("5M", ["--objects", "5000000"]),
    ("1M 64 threads", ["--objects", "1000000", "--threads", "64"]),
    ("1M frozen", ["--objects", "1000000", "--freeze"]),
    ("1M + 1GiB payload", ["--objects", "1000000", "--payload-mb", "1024"]),
]
if os.environ.get("BENCH_QUICK"):
    SCENARIOS = SCENARIOS[:2]


def run_heapwatch(pid, mode):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run([HW, "dump", "--json", "--measure-floor", "--mode", mode, str(pid)],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip())
    doc = json.loads(p.stdout)
    doc["_wall_ms"] = wall * 1000
    doc["_proc_cpu_ms"] = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    doc["_maxrss_mb"] = doc.get("heapwatch_maxrss_kb", 0) / 1024.0
    return doc


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def bench(label, exe, scen, args, mode):
    t = Target(exe, "bench_target.py", args)
    try:
        rows = []
        types = None
        same = True
        run_heapwatch(t.pid, mode)  # warm: page cache of the DWARF files
        for _ in range(RUNS):
            t.cmd("r")
            doc = run_heapwatch(t.pid, mode)
            gap = int(t.cmd("m"))
            names = dict((x["name"], x["count"]) for x in doc["types"])
            if types is None:
                types = names
            elif names != types:
                same = False
            rows.append((gap, doc))
        ts, cnt, lean = (float(x) for x in t.cmd("c").split())
        gaps = [r[0] / 1000.0 for r in rows]
        d = [r[1] for r in rows]
        res = {
            "python": label, "scenario": scen, "mode": mode,
            "objects": d[0]["gc_objects"],
            "pause_ms": med(gaps),
            "stopped_ms": med([x["pause_us"] / 1000.0 for x in d]),
            "copied_mb": med([x["copied_bytes"] / 1048576.0 for x in d]),
            "floor_ms": med([x.get("floor_us", 0) / 1000.0 for x in d]),
            "census_cpu_ms": med([x.get("cpu_us", 0) / 1000.0 for x in d]),
            "proc_cpu_ms": med([x["_proc_cpu_ms"] / 1.0 for x in d]),
            "wall_ms": med([x["_wall_ms"] for x in d]),
            "rss_mb": max(x["_maxrss_mb"] for x in d),
            "typestats_ms": ts, "counter_ms": cnt, "lean_ms": lean, "same": same,
            "attempts": med([x["attempts"] for x in d]),
        }
        return res
    finally:
        t.close()


def main():
    pys = pythons()
    if not pys:
        print("bench: no CPython 3.11/3.12 with debug info found")
        return 1
    modes = os.environ.get("BENCH_MODES", "snapshot").split(",")
    hdr = ("%-6s %-18s %-8s %9s %9s %9s %8s %8s %7s %9s %9s %8s %8s %9s %7s %7s %7s %5s" %
           ("python", "scenario", "mode", "objects", "pause", "stopped", "copiedMB", "floor",
            "p/flr", "cpu", "typestat", "p/ts%", "cpu/ts", "lean", "wall", "rssMB", "tries", "same"))
    print(hdr)
    results = []
    for label, exe in pys:
        for scen, args in SCENARIOS:
            for mode in modes:
                try:
                    r = bench(label, exe, scen, args, mode)
                except Exception as ex:
                    print("%-6s %-18s %-8s error: %s" % (label, scen, mode, ex))
                    continue
                results.append(r)
                print("%-6s %-18s %-8s %9d %7.2fms %7.2fms %8.1f %6.2fms %7.2f %7.1fms %7.1fms %7.1f%% %8.2f %7.1fms %5.0fms %7.0f %7.1f %5s" % (
                    r["python"], r["scenario"], r["mode"], r["objects"], r["pause_ms"], r["stopped_ms"],
                    r["copied_mb"], r["floor_ms"],
                    r["stopped_ms"] / r["floor_ms"] if r["floor_ms"] else float("nan"),
                    r["census_cpu_ms"], r["typestats_ms"],
                    100.0 * r["pause_ms"] / r["typestats_ms"],
                    r["census_cpu_ms"] / r["typestats_ms"], r["lean_ms"], r["wall_ms"], r["rss_mb"], r["attempts"],
                    "yes" if r["same"] else "NO"))
                sys.stdout.flush()
    print("pause: longest gap the target's ticker saw (median of %d); stopped: heapwatch's own measure;" % RUNS)
    print("floor: one bulk process_vm_readv of the same pages without stopping; p/flr = stopped/floor;")
    print("cpu: heapwatch's CPU time for the census; typestat: in-process objgraph.typestats() (Debian's")
    print("python3-objgraph; median of 5); lean: the same count as an inlined loop, the fastest in-process way;")
    print("p/ts% = pause/typestats; cpu/ts = cpu/typestats; payload scenario: compare its pause with the 1M row.")
    return 0


sys.exit(main())
