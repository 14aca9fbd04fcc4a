# test_history.py - the daemon's local history (SQLite) against real
# CPython targets, every build found:
#   - the rows equal the statsd lines of the same samples (a UDP capture
#     stands for statsd: only the lines matter here, and a capture sees
#     every line in order, where statsd would keep only the last value of
#     each gauge);
#   - thinning and retention at compressed ages keep the file bounded;
#   - a read-only directory, a full file system (small tmpfs), a damaged
#     file and a newer schema are logged once and sampling goes on;
#   - `heapwatch report` on the result: --text and --svg name the leaking
#     type first, the SVG parses as XML, --html renders in headless
#     Chromium with the graphs drawn (screenshot kept under
#     build/test-artifacts/), and bad input gets one line and exit 1 or 2.
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEAPWATCH, Results, Target  # noqa: E402
from pythons import find_builds  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ARTIFACTS = os.path.join(ROOT, os.environ.get("HW_BUILD_DIR", "build"), "test-artifacts")

R = Results()
work = tempfile.mkdtemp(prefix="hw-history-")
procs = []
mounts = []


class Capture(object):
    """A UDP socket on 127.0.0.1 that keeps every statsd line, in order."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.lines = []
        self.lock = threading.Lock()
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                continue
            with self.lock:
                self.lines += data.decode("utf-8", "replace").split("\n")

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def close(self):
        self.stop = True
        self.t.join(2)
        self.s.close()


def write_conf(path, port, hist, targets, history_extra="", interval="250ms", flush="500ms"):
    with open(path, "w") as f:
        # Every new metric name at once: the test compares every line.
        f.write("interval: %s\nflush_interval: %s\ntop_types: 30\nlog_level: info\n"
                "max_new_series_per_minute: 100000\n"
                "statsd:\n  host: 127.0.0.1\n  port: %d\n  prefix: hwt\n"
                "  path: \"{prefix}.{target}.{pid}.{metric}\"\n"
                "status_file: %s.status.json\n"
                "history:\n  path: %s\n%s"
                "targets:\n" % (interval, flush, port, path, hist, history_extra))
        for name, pid in targets:
            f.write("  - name: %s\n    pid: %d\n" % (name, pid))
    os.chmod(path, 0o600)


class Daemon(object):
    def __init__(self, conf, name):
        self.log_path = os.path.join(work, name + ".log")
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen([HEAPWATCH, "daemon", "--config", conf], stdout=self.log,
                                  stderr=subprocess.STDOUT)
        procs.append(self)

    def text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                return self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                return -9
        return self.p.returncode

    def close(self):
        self.stop()
        self.log.close()


def wait_for(cond, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise RuntimeError("timed out after %ss waiting for %s" % (timeout, what))


def q(db, sql, *args):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def rows_of(db):
    try:
        return q(db, "SELECT count(*) FROM sample")[0][0]
    except sqlite3.Error:
        return 0


def sanitize(name):
    """hw_statsd_sanitize() for names short enough not to be hashed."""
    out = re.sub(rb"[^A-Za-z0-9_-]+", b"_", name.encode("utf-8", "surrogateescape"))
    return (out or b"_").decode()


def heapwatch(*args, **kw):
    p = subprocess.run([HEAPWATCH] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120, env=kw.get("env"))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


# ---------------------------------------------------------------------
# 1. every build sampled; rows == statsd lines; the leak in the report

def statsd_samples(lines):
    """{(target, pidnode): [ {metric: value} per sample ]} from the capture;
    a sample's lines start with rss_bytes (statsd.h's order)."""
    out = {}
    for line in lines:
        m = re.match(r"^hwt\.([A-Za-z0-9_-]+)\.([0-9]+|all)\.(.+):(-?[0-9]+)\|g$", line)
        if not m:
            continue
        key = (m.group(1), m.group(2))
        metric, value = m.group(3), m.group(4)
        seq = out.setdefault(key, [])
        if metric == "rss_bytes" or not seq:
            seq.append({})
        if value.startswith("-"):
            # statsd reads "-n" as a change to the gauge: negative
            # values are sent as 0, then -n.
            seq[-1][metric] = seq[-1].get(metric, 0) + int(value)
        else:
            seq[-1][metric] = int(value)
    return out


VERDICTS = {"warming": 0, "steady": 1, "plateau": 2, "early_explosion": 3, "surge": 4, "leak": 5}


def db_samples(db):
    out = {}
    rows = q(db, "SELECT s.id, p.target, p.pid, s.rss, s.pss, s.uss, s.swap, s.max_rss, s.nprocs,"
                 " s.nprocs_ok, s.gc_objects, s.pause_us, s.partial, s.ok, s.verdict,"
                 " s.rss_growth_per_hour"
                 " FROM sample s JOIN process p ON p.id = s.process ORDER BY s.t_ms, s.id")
    types = {}
    for sid, name, count, growth in q(db, "SELECT c.sample, t.name, c.count, c.growth_per_hour"
                                          " FROM type_count c JOIN type t ON t.id = c.type"):
        types.setdefault(sid, {})["types." + sanitize(name)] = count
        if growth is not None:
            types[sid]["growth." + sanitize(name)] = growth
    for (sid, target, pid, rss, pss, uss, swap, max_rss, nprocs, nok, gco, pause, partial,
         ok, verdict, rss_growth) in rows:
        d = {}
        for k, v in (("rss_bytes", rss), ("pss_bytes", pss), ("uss_bytes", uss),
                     ("swap_bytes", swap), ("max_rss_bytes", max_rss), ("processes", nprocs),
                     ("processes_censused", nok),
                     ("verdict", VERDICTS.get(verdict, verdict) if verdict else None),
                     ("rss_growth_bytes_per_hour", rss_growth)):
            if v is not None:
                d[k] = v
        if ok:
            d.update({"gc_objects": gco, "pause_us": pause, "partial": partial})
            d.update(types.get(sid, {}))
        out.setdefault((target, "all" if pid == 0 else str(pid)), []).append(d)
    return out


def scenario_builds():
    cap = Capture()
    procs.append(cap)
    found, skipped = find_builds(pidns=False)
    for s in skipped:
        print("SKIP build %s" % s)
    targets, leaker = [], None
    for b in found:
        try:
            t = Target(b)
        except Exception as ex:  # a build that cannot start is reported, not fatal
            print("SKIP build %s: target did not start: %r" % (b.label, ex))
            continue
        procs.append(t)
        name = re.sub(r"[^A-Za-z0-9_-]", "_", b.label)
        targets.append((name, t.pid))
        if b.label == "debian-3.11":
            leaker = (name, t)
    if leaker is None and targets:
        leaker = (targets[-1][0], [p for p in procs if getattr(p, "pid", None) == targets[-1][1]][0])
    print("NOTE builds sampled: %s" % ", ".join(n for n, _ in targets))
    db = os.path.join(work, "h.db")
    conf = os.path.join(work, "builds.yaml")
    write_conf(conf, cap.port, db, targets)
    d = Daemon(conf, "builds")
    wait_for(lambda: rows_of(db) >= 2 * len(targets), 60, "rows for every target")
    # The leak: 500 more Marker objects at a time, while the daemon samples.
    for _ in range(8):
        leaker[1].grow()
        time.sleep(0.3)
    n0 = rows_of(db)
    wait_for(lambda: rows_of(db) >= n0 + 2 * len(targets), 60, "more rows")
    rc = d.stop()
    R.check("daemon exits 0 after SIGTERM", rc == 0, "rc %s: %s" % (rc, d.text()[-2000:]))
    time.sleep(0.5)                # the last datagrams
    cap.close()
    text = d.text()
    R.check("no history warning in the log", "warning: history:" not in text, text[-1500:])
    m = re.search(r"history: (\d+) samples written to .* in (\d+) transactions \(last (\d+) us,"
                  r" longest (\d+) us, (\d+) us of CPU in all\)", text)
    if m:
        print("NOTE flush cost: %s samples of %d series in %s transactions, last %s us, longest %s us,"
              " %.0f us of CPU per transaction" % (m.group(1), len(targets) * 2, m.group(2),
                                                   m.group(3), m.group(4),
                                                   int(m.group(5)) / max(1, int(m.group(2)))))
    got, want = db_samples(db), statsd_samples(cap.snapshot())
    R.check("statsd lines captured for every target",
            all((n, str(p)) in want for n, p in targets), str(sorted(want))[:300])
    bad = []
    for key in sorted(set(got) | set(want)):
        g, w = got.get(key, []), want.get(key, [])
        if len(g) != len(w):
            bad.append("%s: %d rows, %d samples in statsd" % (key, len(g), len(w)))
            continue
        for i, (a, b) in enumerate(zip(g, w)):
            if a != b:
                diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                bad.append("%s sample %d: %s" % (key, i, ["%s db %s statsd %s" % (
                    k, a.get(k), b.get(k)) for k in diff[:4]]))
                break
    nsamples = sum(len(v) for v in got.values())
    R.check("%d rows of %d series equal the statsd lines of the same samples" % (
        nsamples, len(got)), not bad and nsamples > 0, "; ".join(bad[:5]))
    return db, leaker[0], [n for n, _ in targets]


def scenario_report(db, leak_target, all_targets):
    env = dict(os.environ, TZ="UTC")
    rc, out, err = heapwatch("report", "--history", db, "--target", leak_target, "--text", env=env)
    lines = [l for l in out.splitlines() if l.startswith("  ") and "RSS" not in l[:34]]
    R.check("report --text: exit 0", rc == 0, err)
    R.check("report --text: the leaking type first (%s)" % (lines[0].split()[0] if lines else "-"),
            bool(lines) and lines[0].split()[0] == "__main__.Marker", out)
    R.check("report --text: sparklines", "\u2581" in out or "\u2588" in out, out)
    print("NOTE report --text:\n" + "\n".join("    " + l for l in out.splitlines()[:8]))
    svg = os.path.join(work, "r.svg")
    rc, out, err = heapwatch("report", "--history", db, "--target", leak_target, "--svg", svg, env=env)
    R.check("report --svg: exit 0", rc == 0, err)
    try:
        root = ET.parse(svg).getroot()
        texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
        legend = [t for t in texts if re.match(r"^\S+ \+[0-9,]+ \(", t)]
        R.check("SVG parses as XML; first type in the legend: %s" % (legend[:1],),
                bool(legend) and legend[0].startswith("__main__.Marker "), str(texts[:30]))
        R.check("SVG has axes with units", any("(MiB)" in t or "(KiB)" in t for t in texts) and
                any(t.startswith("time (") for t in texts), str(texts[:30]))
    except ET.ParseError as ex:
        R.bad("SVG parses as XML", str(ex))
    html = os.path.join(work, "r.html")
    rc, out, err = heapwatch("report", "--history", db, "--html", html, "--types", "3", env=env)
    R.check("report --html: exit 0", rc == 0, err)
    page = open(html, encoding="utf-8").read()
    R.check("HTML is self-contained (no script, no external URL)",
            "<script" not in page and not re.search(r"(src|href)=\"(https?:)?//", page), "")
    R.check("HTML has every target and the table of growing types",
            all(t in page for t in all_targets) and "Growing types" in page and
            "__main__.Marker" in page, "")
    screenshot(html)


def screenshot(html):
    chromium = shutil.which("chromium")
    if not chromium:
        R.skip("HTML in headless Chromium", "chromium not installed (make check installs it)")
        return
    try:
        from PIL import Image
    except ImportError:
        R.skip("HTML in headless Chromium", "python3-pil not installed (make check installs it)")
        return
    os.makedirs(ARTIFACTS, exist_ok=True)
    png = os.path.join(ARTIFACTS, "history-report.png")
    if os.path.exists(png):
        os.unlink(png)
    ud = tempfile.mkdtemp(prefix="chromium-", dir=work)
    p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--user-data-dir=" + ud,
                        "--hide-scrollbars", "--window-size=1000,1600", "--screenshot=" + png,
                        "file://" + html], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    if not os.path.exists(png):
        R.bad("HTML in headless Chromium", p.stdout.decode(errors="replace")[-800:])
        return
    img = Image.open(png).convert("RGB")
    w, h = img.size
    px = img.load()
    colors = {}
    for y in range(0, h, 2):
        for x in range(0, w, 2):
            c = px[x, y]
            colors[c] = colors.get(c, 0) + 1

    def near(rgb, tol=40):
        return sum(n for c, n in colors.items() if all(abs(c[i] - rgb[i]) <= tol for i in range(3)))
    white = colors.get((255, 255, 255), 0)
    total = sum(colors.values())
    rss_px = near((0x1f, 0x77, 0xb4))      # the RSS line and band
    type_px = near((0xff, 0x7f, 0x0e))     # the first type's line
    trend_px = near((0xd6, 0x27, 0x28), 30)
    print("NOTE screenshot %s (%dx%d): %.1f%% white, RSS %d px, first type %d px, trend %d px"
          % (png, w, h, 100.0 * white / total, rss_px, type_px, trend_px))
    R.check("screenshot is not blank and shows the graphs (RSS, valley trend, types)",
            white < total * 0.99 and rss_px > 50 and type_px > 50 and trend_px > 20,
            "white %d/%d rss %d type %d trend %d" % (white, total, rss_px, type_px, trend_px))


# ---------------------------------------------------------------------
# 2. thinning and retention at compressed ages

def scenario_ageing(pid):
    cap = Capture()
    procs.append(cap)
    db = os.path.join(work, "age.db")
    conf = os.path.join(work, "age.yaml")
    # Every sample for 2 s, then one per second and process, none past 8 s.
    write_conf(conf, cap.port, db, [("age", pid)],
               "  retention: 10s\n  full_resolution: 2s\n  thinned_interval: 1s\n",
               interval="100ms", flush="300ms")
    d = Daemon(conf, "age")
    sizes, peak = [], 0
    t_end = time.time() + 16
    while time.time() < t_end:
        time.sleep(1)
        if os.path.exists(db):
            sizes.append(os.path.getsize(db))
        peak = max(peak, rows_of(db))
    thinned = q(db, "SELECT count(*), coalesce(max(samples), 0) FROM sample WHERE samples > 1")[0]
    span = q(db, "SELECT (max(t_ms) - min(t_ms)) / 1000.0 FROM sample")[0][0] or 0
    d.stop()
    cap.close()
    # Two series (the process and its target's "all"), each at most one
    # sample per 100 ms interval.  Every sample is kept for full_resolution
    # (2 s), and thinning runs every thinned_interval (1 s) at a flush
    # (300 ms) and works in whole 1 s buckets: 4.3 s of samples at full
    # resolution, plus one row per second for the other 8 s and the edges.
    # 2 s more for a writer thread that a loaded machine runs late: the
    # bound is about the file not growing with time, not about speed.
    bound = 2 * (int((2 + 1 + 1 + 0.3 + 2) / 0.1) + 1 + 8 + 4)
    print("NOTE ageing: %d rows at most (bound %d), %d merged rows standing for up to %d samples,"
          " span %.1f s, file %s bytes" % (peak, bound, thinned[0], thinned[1], span,
                                            sizes[-3:] if sizes else "?"))
    R.check("ageing: rows stay under their bound (%d <= %d)" % (peak, bound), 0 < peak <= bound,
            d.text()[-1000:])
    R.check("ageing: old rows are thinned (one per second standing for several samples)",
            thinned[0] > 0 and thinned[1] >= 5, str(thinned))
    R.check("ageing: nothing much older than the retention (span %.1f s)" % span, span <= 10 + 4,
            str(span))
    # Past the retention (10 s) the file holds as many rows as it loses.
    settled = sizes[min(11, len(sizes) - 1)] if sizes else 0
    R.check("ageing: the file stops growing (%s bytes at 12 s, %s at the end)" % (
        settled, sizes[-1] if sizes else "?"),
        sizes and max(sizes[11:] or sizes[-1:]) <= settled * 1.25, str(sizes))


# ---------------------------------------------------------------------
# 3. broken storage: logged once, sampling goes on

def mount_tmpfs(path, opts):
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        return p.stdout.decode(errors="replace").strip() or "mount failed"
    mounts.append(path)
    return None


def samples_sent(cap, target):
    return sum(1 for l in cap.snapshot() if l.startswith("hwt.%s." % target) and ".rss_bytes:" in l
               and ".all." not in l)


def run_broken(name, pid, hist, expect, check_after=None, fix=None, extra=""):
    cap = Capture()
    procs.append(cap)
    conf = os.path.join(work, name + ".yaml")
    write_conf(conf, cap.port, hist, [(name, pid)], extra)
    d = Daemon(conf, name)
    wait_for(lambda: samples_sent(cap, name) >= 4, 30, "%s: samples to statsd" % name)
    n0 = samples_sent(cap, name)
    time.sleep(2.5)                # several flushes, each failing again
    n1 = samples_sent(cap, name)
    text = d.text()
    warnings = [l for l in text.splitlines() if "warning: history:" in l]
    R.check("%s: logged once (%d line): %s" % (name, len(warnings),
                                                warnings[0][:150] if warnings else ""),
            len(warnings) == 1 and re.search(expect, warnings[0]) is not None, text[-1500:])
    R.check("%s: sampling goes on (%d -> %d samples sent)" % (name, n0, n1),
            n1 > n0 and d.p.poll() is None, text[-800:])
    if fix:
        fix()
        wait_for(lambda: "writing to %s again" % hist in d.text(), 90, "%s: recovery" % name)
        R.ok("%s: recovery logged once the problem is gone" % name)
        wait_for(lambda: rows_of(hist) > 0, 30, "%s: rows after recovery" % name)
        R.ok("%s: rows written after recovery (%d)" % (name, rows_of(hist)))
    if check_after:
        check_after(d)
    rc = d.stop()
    R.check("%s: exit 0" % name, rc == 0, "rc %s" % rc)
    cap.close()


def scenario_broken(pid):
    if os.geteuid() != 0:
        R.skip("read-only and full directories", "needs root to mount a small tmpfs")
    else:
        ro = os.path.join(work, "ro")
        why = mount_tmpfs(ro, "ro,size=1m")
        if why:
            R.skip("read-only directory", why)
        else:
            run_broken("readonly", pid, os.path.join(ro, "h.db"), r"Read-only file system")
        full = os.path.join(work, "full")
        why = mount_tmpfs(full, "size=256k")
        if why:
            R.skip("full directory", why)
        else:
            # Fill it, leaving no room for the database's pages.
            filler = os.path.join(full, "filler")
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while os.write(fd, b"\0" * 4096) > 0:
                    pass
            except OSError:
                pass
            os.close(fd)
            run_broken("full", pid, os.path.join(full, "h.db"),
                       r"No space left on device|disk is full|disk I/O error",
                       fix=lambda: os.unlink(filler))
    # A damaged file: moved aside, a new one started.
    bad = os.path.join(work, "damaged.db")
    with open(bad, "wb") as f:
        f.write(b"this is not an SQLite database, whatever its name says\n" * 100)

    def moved(d):
        aside = [n for n in os.listdir(work) if n.startswith("damaged.db.corrupt-")]
        R.check("damaged: moved aside (%s) and a new database started" % aside, len(aside) == 1
                and rows_of(bad) > 0, str(os.listdir(work)))
    run_broken("damaged", pid, bad, r"was damaged; moved it aside to .*damaged\.db\.corrupt-",
               check_after=moved)
    # A newer schema: left alone.
    newer = os.path.join(work, "newer.db")
    c = sqlite3.connect(newer)
    c.execute("PRAGMA application_id = 1213679665")
    c.execute("PRAGMA user_version = 99")
    c.execute("CREATE TABLE future (x)")
    c.commit()
    c.close()
    run_broken("newer", pid, newer, r"schema version 99 is newer than this heapwatch reads \(1\)")
    R.check("newer: the file is left as it was", q(newer, "PRAGMA user_version")[0][0] == 99, "")
    return newer


# ---------------------------------------------------------------------
# 4. bad input to report

def scenario_bad_input(db, newer, leak_target):
    empty = os.path.join(work, "empty.db")
    cap = Capture()
    procs.append(cap)
    conf = os.path.join(work, "empty.yaml")
    write_conf(conf, cap.port, empty, [])
    d = Daemon(conf, "empty")
    wait_for(lambda: os.path.exists(empty) and rows_of(empty) == 0 and q(
        empty, "PRAGMA user_version")[0][0] == 1, 30, "an empty history")
    d.stop()
    cap.close()
    garbage = os.path.join(work, "garbage.db")
    with open(garbage, "w") as f:
        f.write("not a database\n" * 100)
    cases = [
        (["--target", "nosuch"], 1, r"no target 'nosuch' in .* \(targets: .*%s" % leak_target),
        (["--pid", "4194000"], 1, r"pid 4194000: no samples in .* since .* \(last 6h\)$"),
        (["--pid", "4194000", "--since", "all"], 1, r"pid 4194000: no samples in \S+$"),
        (["--slot", "w999"], 1, r"slot w999: no samples in "),
        (["--since", "yesterday"], 2, r"--since: 'yesterday' is not a duration"),
        (["--since", "-5m"], 2, r"--since: '-5m' is not a duration"),
        (["--types", "0"], 2, r"--types: '0' is not a number from 1 to 20"),
        (["--pid", "12", "--slot", "w1"], 2, r"--pid and --slot"),
        (["--pid", "abc"], 2, r"--pid: 'abc' is not a process id"),
        ([], 2, r"say what to write"),
    ]
    for args, want_rc, pattern in cases:
        fmt = [] if args == [] else ["--text"]
        rc, out, err = heapwatch("report", "--history", db, *(args + fmt))
        one = err.strip().splitlines()
        R.check("report %s: exit %d, %s" % (" ".join(args), want_rc, one[0] if one else ""),
                rc == want_rc and one and re.search(pattern, one[0]) is not None and not out,
                "rc %d: %r" % (rc, err))
    for path, want_rc, pattern in ((empty, 1, r"the history is empty"),
                                   (newer, 1, r"schema version 99 is newer"),
                                   (garbage, 1, r"file is not a database|not a heapwatch"),
                                   (os.path.join(work, "missing.db"), 1,
                                    r"missing\.db: No such file")):
        rc, out, err = heapwatch("report", "--history", path, "--text")
        one = err.strip().splitlines()
        R.check("report on %s: exit %d, %s" % (os.path.basename(path), want_rc,
                                               one[0] if one else ""),
                rc == want_rc and len(one) == 1 and re.search(pattern, one[0]) is not None,
                "rc %d: %r" % (rc, err))
    # --since in the future of the data: nothing since then.
    rc, out, err = heapwatch("report", "--history", db, "--since", "1s", "--text")
    if rc != 0:
        R.check("report --since 1s: one line, exit 1", rc == 1 and "no samples" in err, err)


# ---------------------------------------------------------------------
# 5. a worker slot that changes hands: one series, the hand-over marked

def scenario_slot():
    cap = Capture()
    procs.append(cap)
    tag = "--hwslot=%d" % os.getpid()
    db = os.path.join(work, "slot.db")
    conf = os.path.join(work, "slot.yaml")
    with open(conf, "w") as f:
        f.write("interval: 200ms\nflush_interval: 400ms\nlog_level: info\n"
                "status_file: %s.status.json\n"
                "statsd:\n  host: 127.0.0.1\n  port: %d\n"
                "history:\n  path: %s\n"
                "targets:\n  - name: slotted\n    match: \"target\\\\.py %s$\"\n"
                % (conf, cap.port, db, tag))
    os.chmod(conf, 0o600)
    first = Target("/usr/bin/python3", args=[tag])
    procs.append(first)
    d = Daemon(conf, "slot")
    wait_for(lambda: rows_of(db) >= 6, 60, "samples of the first worker")
    first.close()
    second = Target("/usr/bin/python3", args=[tag])
    procs.append(second)
    wait_for(lambda: q(db, "SELECT count(*) FROM samples WHERE pid = ?", second.pid)[0][0] >= 3,
             60, "samples of the second worker")
    d.stop()
    cap.close()
    slots = q(db, "SELECT DISTINCT pid, slot FROM samples WHERE pid != 0 ORDER BY t_ms")
    R.check("slot: the second worker took the first one's slot (%s)" % slots,
            [s for _, s in slots] == [0, 0] and len(slots) == 2, str(slots))
    env = dict(os.environ, TZ="UTC")
    rc, out, err = heapwatch("report", "--history", db, "--slot", "w0", "--text", env=env)
    R.check("report --slot w0: one series of 2 processes", rc == 0 and
            "slot w0 (2 processes)" in out and out.count(" \u00b7 slot w0") == 1, out + err)
    svg = os.path.join(work, "slot.svg")
    rc, out, err = heapwatch("report", "--history", db, "--slot", "0", "--svg", svg, env=env)
    texts = ["".join(t.itertext()) for t in ET.parse(svg).getroot().iter(
        "{http://www.w3.org/2000/svg}text")] if rc == 0 else []
    R.check("report --slot: the hand-over marked (pid %d)" % second.pid,
            "pid %d" % second.pid in texts, str(texts[:40]) + err)
    rc, out, err = heapwatch("report", "--history", db, "--slot", "w7", "--text")
    R.check("report --slot w7: exit 1, %s" % err.strip(), rc == 1 and
            err.strip().startswith("heapwatch: slot w7: no samples in "), err)


try:
    db, leak_target, names = scenario_builds()
    scenario_report(db, leak_target, names)
    side = Target("/usr/bin/python3")
    procs.append(side)
    scenario_ageing(side.pid)
    newer = scenario_broken(side.pid)
    scenario_bad_input(db, newer, leak_target)
    scenario_slot()
except Exception as ex:
    import traceback
    traceback.print_exc()
    R.bad("history", repr(ex))
    for p in procs:
        if isinstance(p, Daemon):
            print("--- %s\n%s" % (p.log_path, p.text()[-1500:]))
finally:
    for p in reversed(procs):
        try:
            p.close()
        except Exception:
            pass
    for m in reversed(mounts):
        subprocess.run(["umount", "-l", m])
    shutil.rmtree(work, ignore_errors=True)
R.exit()
