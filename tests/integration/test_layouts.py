# test_layouts.py - every layout source gives the same census where it
# applies, and a stripped Debian python3.11 whose debug file cannot be
# found (copied, .gnu_debuglink removed, build-id changed) is still
# counted exactly, from the built-in table.
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Results, Target, diff_counts, dump_json, heapwatch  # noqa: E402
from pythons import builds, version_of  # noqa: E402

R = Results()
found, skipped = builds()
for s in skipped:
    R.skip(s, "build not present")


def sources_for(ver):
    src = ["dwarf", "table"]
    if ver >= (3, 13):
        src.append("debug_offsets")
    if ver >= (3, 7):
        src.append("scan")
    return src


for label, exe in found:
    ver = version_of(exe)
    t = Target(exe)
    try:
        docs = {}
        for src in sources_for(ver):
            rc, out, err = heapwatch("dump", "--json", "--layout-source", src, t.pid)
            if rc != 0:
                R.bad("%s layout %s" % (label, src), err.strip())
                continue
            import json
            docs[src] = json.loads(out)
        base = docs.get("dwarf")
        for src, d in sorted(docs.items()):
            same = base is not None and d["types"] == base["types"]
            R.check("%s layout %-13s %s (%d objects)" % (label, src, d["layout_detail"][:60],
                                                       d["gc_objects"]), same,
                    "differs from dwarf: %s" % (diff_counts(d, {"counts": dict(
                        (x["name"], x["count"]) for x in base["types"])}) if base else "no dwarf")[:3])
        py = t.count()
        if ver < (3, 7):
            py["counts"]["tuple"] = py["counts"].get("tuple", 0) + 1
            py["total"] += 1
        if base:
            R.check("%s dwarf census equals gc.get_objects()" % label, not diff_counts(base, py),
                    str(diff_counts(base, py)[:3]))
    finally:
        t.close()

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
R.exit()
