# test_layouts.py - every layout source, on every build found, counts
# exactly what the target's own gc.get_objects() (plus the permanent
# generation) holds, per class and in total, and `auto` picks the best.
#
# Builds: pyenv 2.7, 3.6-3.13 and Debian 12's python3.11/3.11d on the host;
# Debian sid's python3.13+ in the chroot of tests/sid-chroot.sh, with debug
# files (dwarf applies) and without (the production case), and once more
# in a pid namespace of its own.  Then layouts that are wrong on purpose,
# made by patching copies of sid's interpreters (nothing in heapwatch is
# built differently for the test):
#   - _Py_DebugOffsets' interpreter_state.gc off by 8 bytes: the
#     debug_offsets source is refused by the run-time check and auto falls
#     back to the table, saying so in layout_notes;
#   - 3.13.18 relabelled 3.13.0, whose table row puts the generation lists
#     4 bytes off: the table is refused, debug_offsets finds them;
#   - the newest sid interpreter relabelled as the next minor version:
#     the census is taken, with a warning and version_untested; the oldest
#     relabelled the same way does not fit the newest _Py_DebugOffsets
#     format and is refused with one error naming the version.
# A stripped Debian python3.11 whose debug file cannot be found, a
# virtualenv symlink and a deleted executable are counted exactly too.
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Results, Target, diff_counts, dump_json, heapwatch  # noqa: E402
from pythons import find_builds, patched_build  # noqa: E402

R = Results()
found, skipped = find_builds(pidns=True)
for s in skipped:
    R.skip(s, "build not present")
# what was verified live, per build and source: printed as NOTE lines
verified = []


def sources_for(b):
    ver = b.version
    src = ["table"]
    if b.debug_files:
        src.insert(0, "dwarf")
    if ver >= (3, 13):
        src.append("debug_offsets")
    if ver >= (3, 7):
        src.append("scan")
    return src


def best_source(b):
    if b.debug_files:
        return "dwarf"
    return "debug_offsets" if b.version >= (3, 13) else "table"


def dump(pid, src=None):
    args = ["dump", "--json"] + (["--layout-source", src] if src else []) + [pid]
    rc, out, err = heapwatch(*args)
    return rc, (json.loads(out) if rc == 0 else None), err.strip()


def expected(b, py):
    # 2.7 and 3.6: get_objects() returns a list it has just made, and that
    # list holds a tuple of its own (counted by heapwatch, not by it)
    if b.version < (3, 7):
        py["counts"]["tuple"] = py["counts"].get("tuple", 0) + 1
        py["total"] += 1
    return py


def census_all_sources(b, args=()):
    t = Target(b, args)
    try:
        docs = {}
        for src in sources_for(b) + ["auto"]:
            rc, d, err = dump(t.pid, None if src == "auto" else src)
            if rc != 0:
                R.bad("%s layout %s" % (b.label, src), err)
                continue
            docs[src] = d
        py = expected(b, t.count())
    finally:
        t.close()
    for src, d in sorted(docs.items()):
        diff = diff_counts(d, py)
        R.check("%s %s: %s (%s), %d objects = gc.get_objects()%s" % (
            b.label, src, d["layout_source"], d["layout_detail"][-70:], d["gc_objects"],
            " + permanent" if "--freeze" in args else ""),
            not diff and d["gc_objects"] == py["total"],
            "total %d vs %d; %s" % (d["gc_objects"], py["total"], diff[:3]))
        if src != "auto" and not diff:
            verified.append((b.label, src))
    if "auto" in docs:
        R.check("%s auto picks %s" % (b.label, best_source(b)),
                docs["auto"]["layout_source"] == best_source(b),
                "picked %s" % docs["auto"]["layout_source"])
    return docs


for b in found:
    if b.kind == "sid" and not b.debug_files:
        # the production case: DWARF must be refused clearly, not guessed
        t = Target(b)
        try:
            rc, d, err = dump(t.pid, "dwarf")
            R.check("%s dwarf refused clearly (no debug files)" % b.label,
                    rc == 1 and "DWARF" in err and len(err.splitlines()) == 1, "rc %d %s" % (rc, err))
        finally:
            t.close()
    census_all_sources(b, ("--freeze",) if b.pidns else ())


# ---- wrong on purpose ----

# Offsets of interpreter_state.gc inside _Py_DebugOffsets, per format (see
# dbg_formats[] in src/layout.c; the test only needs this one field).
DBG_INTERP_GC = {(3, 13): 80, (3, 14): 88, (3, 15): 88}
sid = [b for b in found if b.kind == "sid" and not b.debug_files and not b.pidns]


def one(b, what, want_rc, check):
    t = Target(b)
    try:
        rc, d, err = dump(t.pid)
        py = t.count()
    finally:
        t.close()
    if rc != want_rc:
        R.bad("%s: %s" % (b.label, what), "rc %d: %s" % (rc, err))
        return
    R.check("%s: %s" % (b.label, what), *check(d, err, py))


for b in sid:
    at = DBG_INTERP_GC.get(b.version[:2])
    if at is None:
        R.skip("%s with _Py_DebugOffsets off by 8" % b.label, "no format offset known to this test")
        continue
    pb = patched_build(b, "gc-plus-8", debug_offsets=[(at, lambda v: v + 8)])
    if pb is None:
        R.skip("%s patched" % b.label, "no _PyRuntime symbol in the executable")
        continue
    # debug_offsets alone: refused, naming what did not hold
    t = Target(pb)
    try:
        rc, d, err = dump(t.pid, "debug_offsets")
        R.check("%s: debug_offsets refused (%s)" % (pb.label, err[-90:]),
                rc == 1 and "generation0" in err and len(err.splitlines()) == 1,
                "rc %d %s" % (rc, err))
    finally:
        t.close()
    one(pb, "auto falls back to the table, exact, refusal in layout_notes", 0,
        lambda d, err, py: (d["layout_source"] == "table" and not diff_counts(d, py) and
                            any("debug_offsets refused" in n for n in d["layout_notes"]),
                            "%s %s %s" % (d["layout_source"], d["layout_notes"], diff_counts(d, py)[:3])))

# 3.13.18+ relabelled 3.13.0: the table row of 3.13.0 puts the lists 4
# bytes too far; only meaningful where those rows differ.
for b in sid:
    if b.version[:2] != (3, 13) or b.version[2] < 18:
        continue
    pb = patched_build(b, "as-3.13.0", version=0x030d00f0)
    t = Target(pb)
    try:
        rc, d, err = dump(t.pid, "table")
        R.check("%s: the 3.13.0 table refused (%s)" % (pb.label, err[-80:]),
                rc == 1 and "generation lists at gc+24" in err, "rc %d %s" % (rc, err))
        rc, d, err = dump(t.pid)
        py = t.count()
    finally:
        t.close()
    R.check("%s: auto uses debug_offsets with the lists found in the process, exact" % pb.label,
            rc == 0 and d["layout_source"] == "debug_offsets" and "found at run time" in d["layout_detail"]
            and any("gc_gens" in n for n in d["layout_notes"]) and not diff_counts(d, py),
            "rc %d %s" % (rc, d and (d["layout_source"], d["layout_detail"], d["layout_notes"])))

# A version newer than any table: the newest sid minor relabelled as the
# next one.  With debug files and without.
if sid:
    newest = max(b.version for b in found if b.kind == "sid")
    nxt = (3, newest[1] + 1, 0)
    hexv = (3 << 24) | (nxt[1] << 16) | 0xf0
    label = "%d.%d.%d" % nxt
    for b in [x for x in found if x.kind == "sid" and not x.pidns and x.version == newest]:
        pb = patched_build(b, "as-" + label, version=hexv)
        t = Target(pb)
        try:
            rc, d, err = dump(t.pid)
            py = t.count()
        finally:
            t.close()
        R.check("%s: untested %s censused (%s), warned, version_untested, exact" % (
            pb.label, label, d and d["layout_source"]),
            rc == 0 and d["version_untested"] is True and "newer than any version" in err
            and label in err and not diff_counts(d, py) and d["gc_objects"] == py["total"],
            "rc %d %s %s" % (rc, err, d and diff_counts(d, py)[:3]))
    oldest = [b for b in sid if b.version[:2] < newest[:2]]
    if oldest:
        b = min(oldest, key=lambda x: x.version)
        pb = patched_build(b, "as-" + label, version=hexv)
        t = Target(pb)
        try:
            rc, d, err = dump(t.pid)
        finally:
            t.close()
        R.check("%s: relabelled %s refused: %s" % (pb.label, label, err[-100:]),
                rc == 1 and label in err and "newer than" in err and len(err.splitlines()) == 1,
                "rc %d %s" % (rc, err))


# ---- the host's stripped python3.11, and odd executables ----

# A stripped binary whose DWARF cannot be found.
deb = "/usr/bin/python3.11"
if os.access(deb, os.X_OK) and shutil.which("objcopy"):
    d = tempfile.mkdtemp(prefix="hw-nodebug-")
    try:
        exe = os.path.join(d, "python3.11")
        subprocess.check_call(["objcopy", "--remove-section", ".gnu_debuglink", deb, exe])
        note = subprocess.check_output(["readelf", "-n", exe]).decode()
        bid = [l.split(":")[1].strip() for l in note.splitlines() if "Build ID" in l][0]
        data = open(exe, "rb").read()
        raw = bytes.fromhex(bid)
        assert data.count(raw) == 1
        data = data.replace(raw, bytes(b ^ 0xff for b in raw))
        open(exe, "wb").write(data)
        os.chmod(exe, 0o755)
        t = Target(exe, env=dict(os.environ, PYTHONHOME="/usr"))
        try:
            rc, out, err = heapwatch("dump", "--json", "--layout-source", "dwarf", t.pid)
            R.check("debug-less python3.11: dwarf source refused clearly", rc == 1 and "DWARF" in err,
                    "rc %d %s" % (rc, err.strip()))
            hw = dump_json(t.pid)
            py = t.count()
            R.check("debug-less python3.11: layout %s (%s), exact census of %d objects" % (
                hw["layout_source"], hw["layout_detail"][:50], hw["gc_objects"]),
                hw["layout_source"] == "table" and not diff_counts(hw, py), str(diff_counts(hw, py)[:3]))
            if not diff_counts(hw, py):
                verified.append(("debian-3.11 (debug file hidden)", "table"))
        finally:
            t.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)
else:
    R.skip("debug-less python3.11", "no /usr/bin/python3.11 or objcopy")

# A virtualenv-style symlink, and an executable deleted after start.
if os.access(deb, os.X_OK):
    d = tempfile.mkdtemp(prefix="hw-shapes-")
    try:
        link = os.path.join(d, "venv-python")
        os.symlink(deb, link)
        copy = os.path.join(d, "python3.11-deleted")
        shutil.copy(deb, copy)
        for what, exe, delete in (("symlinked (virtualenv) python", link, False),
                                  ("deleted executable", copy, True)):
            t = Target(exe, env=dict(os.environ, PYTHONHOME="/usr"))
            try:
                if delete:
                    os.unlink(copy)
                hw = dump_json(t.pid)
                py = t.count()
                R.check("%s: layout %s, exact census of %d objects" % (what, hw["layout_source"], hw["gc_objects"]),
                        not diff_counts(hw, py), str(diff_counts(hw, py)[:3]))
            finally:
                t.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)

byb = {}
for label, src in verified:
    byb.setdefault(label, []).append(src)
for label in sorted(byb):
    print("NOTE verified live: %s: %s" % (label, ", ".join(byb[label])))
print("NOTE sid builds: %s" % (", ".join(sorted(set(b.version_str for b in found if b.kind == "sid")))
                               or "none"))
R.exit()
