# test_graphite.py - heapwatch end to end into Graphite, every part real
# and on loopback: Debian's carbon-cache (whisper, MAX_CREATES_PER_MINUTE
# at its default 50), Etsy statsd with its graphite backend, graphite-web
# (Debian's Django app under gunicorn), two real gunicorn targets with a
# leaking app (one steady, one recycled by max_requests), the daemon with
# its default budget of 40 new series a minute, and headless Chromium.
#
#   - the render API returns the leaking type's series for a worker slot,
#     rising, and the RSS series of every slot;
#   - every target of both shipped dashboards (variables filled in) returns
#     data; the graphite-web dashboard is saved and loaded through
#     graphite-web's own endpoints and shown in Chromium: screenshot kept,
#     every graph image a non-blank PNG;
#   - after >= 10 worker recyclings, the whisper files are exactly the names
#     heapwatch sent, no more than its slots and selected types need, and
#     carbon dropped no creates;
#   - statsd, then carbon, down and back: the series resume.
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEAPWATCH, Results  # noqa: E402
from realstack import ROOT, Gunicorn, wait_for  # noqa: E402
import gstack  # noqa: E402

R = Results()
T0 = time.time()
work = tempfile.mkdtemp(prefix="hw-graphite-")
ARTIFACTS = os.path.join(ROOT, "build", "test-artifacts")
DASH = os.path.join(ROOT, "dashboards")
CONF = os.path.join(ROOT, "conf", "graphite")
PREFIX = "stats.gauges.heapwatch"          # stock statsd + default statsd.prefix
PER_SLOT = set(["pid", "rss_bytes", "pss_bytes", "uss_bytes", "swap_bytes", "gc_objects",
                "pause_us", "partial", "verdict", "rss_growth_bytes_per_hour"])
PER_AGG = set(["rss_bytes", "pss_bytes", "uss_bytes", "swap_bytes", "max_rss_bytes", "processes",
               "processes_censused", "gc_objects", "pause_us", "partial", "verdict",
               "rss_growth_bytes_per_hour"])
RECYCLINGS = 10
LIMIT_S = 300                               # the whole run, a safety net only
procs = []


def note(msg):
    print("NOTE %s" % msg)
    sys.stdout.flush()


def info(msg):
    print("     %s" % msg)
    sys.stdout.flush()


def elapsed():
    return "%.0fs" % (time.time() - T0)


# A fast schema first (1 s steps, as statsd flushes every second here); the
# shipped snippets after it, so carbon parses them too.
SCHEMAS = """[carbon]
pattern = ^carbon\\.
retentions = 5s:1h

[heapwatch_test]
pattern = ^stats\\.gauges\\.heapwatch\\.
retentions = 1s:1h,10s:1d

%s
[default]
pattern = .*
retentions = 1s:1h
""" % open(os.path.join(CONF, "storage-schemas.conf")).read()
AGGREGATION = open(os.path.join(CONF, "storage-aggregation.conf")).read() + """
[default]
pattern = .*
xFilesFactor = 0
aggregationMethod = average
"""


def nonnull(points):
    return [(v, t) for v, t in points if v is not None]


def slots_of(names, target):
    return sorted(set(n.split(".")[2] for n in names
                      if n.startswith("heapwatch.%s.w" % target)))


class Load(object):
    """Requests in a thread: a leak on `web` every half second, plain
    requests on `churn` (recycled every few by max_requests) until it has
    recycled enough."""

    def __init__(self, web, churn):
        self.web, self.churn = web, churn
        self.stop = False
        self.churn_pids = set()
        self.leaks = {}            # web worker pid -> its own len(LEAKS)
        self.leaking = True
        self.errors = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        last_leak = 0
        while not self.stop:
            now = time.time()
            try:
                if self.leaking and now - last_leak >= 0.5:
                    last_leak = now
                    r = self.web.get("/leak?n=1000")
                    self.leaks[r["pid"]] = r["leaks"]
                if self.recyclings() < RECYCLINGS + 4:
                    self.churn_pids.add(self.churn.get("/")["pid"])
            except (OSError, ValueError):
                self.errors += 1
            time.sleep(0.25)

    def recyclings(self):
        # every pid beyond the first two workers replaced one
        return max(0, len(self.churn_pids) - 2)

    def close(self):
        self.stop = True
        self.t.join(10)


def write_config(path, statsd_port, web, churn):
    # top_types 2 and no growth_types: few enough names that the budget
    # creates them all in three minutes; trend compressed so that verdicts
    # and growth rates come within the run.
    with open(path, "w") as f:
        f.write("""interval: 500ms
flush_interval: 1s
top_types: 2
growth_types: 0
watch_types: ["leakyapp.LeakyThing"]
max_new_series_per_minute: 40
log_level: info
status_file: %s
trend: {warmup: 4s, bucket: 2s, window: 20s}
statsd:
  host: 127.0.0.1
  port: %d
targets:
  - name: web
    pidfile: %s
    children: true
  - name: churn
    pidfile: %s
    children: true
""" % (os.path.join(work, "status.json"), statsd_port, web.pidfile, churn.pidfile))
    os.chmod(path, 0o600)


def series_after(gw, target, t, frm="-10min"):
    """Non-null points of target stamped after time t."""
    return [(v, ts) for name, pts in gw.render(target, frm) for v, ts in nonnull(pts) if ts > t]


def load_panels():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "gen_dashboards", os.path.join(ROOT, "tools", "gen-dashboards.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.PANELS


def check_dashboard_targets(gw, names):
    """Every target of both shipped dashboards returns data."""
    verdict_sent = any(n.endswith(".verdict") for n in names)
    gen = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "gen-dashboards.py"),
                          "--check"], capture_output=True, text=True)
    R.check("dashboards/*.json are what tools/gen-dashboards.py writes", gen.returncode == 0,
            gen.stdout + gen.stderr)
    panels = load_panels()
    needs = dict((p["id"], p.get("needs")) for p in panels)
    web_state = json.load(open(os.path.join(DASH, "graphite-web.json")))
    graf = json.load(open(os.path.join(DASH, "grafana.json")))
    exprs = []
    for gid, params, url in web_state["graphs"]:
        for t in params["target"]:
            exprs.append(("graphite-web %s" % gid, gid, t))
    # Grafana: its variables filled as a user's first view fills them
    # (All), and as a user who picks one target and two slots.
    variables = dict((v["name"], v) for v in graf["templating"]["list"])
    R.check("grafana variables prefix, target, slot (prefix defaults to %s)" % PREFIX,
            variables.get("prefix", {}).get("query") == PREFIX and "target" in variables
            and "slot" in variables, str(sorted(variables)))
    ids = [p["id"] for p in graf["panels"]]
    R.check("grafana: %d panels, ids unique, every target has a refId" % len(ids),
            len(ids) == len(set(ids)) == len(panels) and all(
                t.get("refId") for p in graf["panels"] for t in p["targets"]), str(ids))
    fills = [dict(prefix=PREFIX, target=variables["target"]["allValue"],
                  slot=variables["slot"]["allValue"], bucket="10min"),
             dict(prefix=PREFIX, target="web", slot="{w0,w1}", bucket="5min")]
    for i, p in enumerate(graf["panels"]):
        for t in p["targets"]:
            for k, f in enumerate(fills):
                e = t["target"]
                for var in ("prefix", "target", "slot", "bucket"):
                    e = e.replace("$" + var, f[var])
                if "$" in e.replace("'$'", ""):
                    R.bad("grafana target has no unfilled variable", e)
                exprs.append(("grafana '%s' (fill %d)" % (p["title"], k), panels[i]["id"], e))
    checked = skipped = 0
    for where, pid, e in exprs:
        if needs.get(pid) == "verdict" and not verdict_sent:
            R.skip("%s: %s" % (where, e), "the daemon sends no verdict gauges yet (issue 9)")
            skipped += 1
            continue
        try:
            got = gw.render(e, "-10min")
        except Exception as ex:
            R.bad("%s: %s" % (where, e), repr(ex))
            continue
        points = sum(len(nonnull(pts)) for _, pts in got)
        R.check("%s returns data: %s (%d series, %d points)" % (where, e, len(got), points),
                points > 0, str([n for n, _ in got]))
        checked += 1
    note("dashboard targets: %d returned data%s" % (
        checked, ", %d skipped (no verdict gauges yet)" % skipped if skipped else ""))


# Run in the page: for every graph image, its size and whether it is a
# non-blank picture (drawn on a canvas: the most common colour is the
# background; a graph with lines has other colours on a few percent of its
# pixels).
IMAGES_JS = r"""
(() => {
  const out = [];
  for (const img of document.querySelectorAll('img')) {
    if (!img.src.includes('/render')) continue;
    const r = {src: img.src, complete: img.complete, w: img.naturalWidth, h: img.naturalHeight};
    if (img.complete && img.naturalWidth > 0) {
      const c = document.createElement('canvas');
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const hist = new Map();
      for (let i = 0; i < d.length; i += 4) {
        const k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
        hist.set(k, (hist.get(k) || 0) + 1);
      }
      let top = 0;
      for (const v of hist.values()) top = Math.max(top, v);
      r.colours = hist.size;
      r.other = 1 - top / (c.width * c.height);
    }
    out.push(r);
  }
  return out;
})()
"""

def check_browser(gw, names, since):
    state = open(os.path.join(DASH, "graphite-web.json")).read()
    reply = json.loads(gw.post("/dashboard/save/heapwatch", {"state": state}))
    R.check("graphite-web saves the dashboard (dashboard/save/heapwatch): %s" % reply,
            reply.get("success") is True, str(reply))
    loaded = json.loads(gw.get("/dashboard/load/heapwatch"))
    R.check("graphite-web loads it back unchanged (dashboard/load/heapwatch)",
            loaded.get("state") == json.loads(state), str(loaded)[:300])
    found = json.loads(gw.get("/dashboard/find?query=heapwatch"))
    R.check("graphite-web lists it (dashboard/find)", any(
        d.get("name") == "heapwatch" for d in found.get("dashboards", [])), str(found))
    graphs = json.loads(state)["graphs"]
    ngraphs = len(graphs)
    needs = dict((p["id"], p.get("needs")) for p in load_panels())
    verdict_sent = any(n.endswith(".verdict") for n in names)
    ch = gstack.Chromium(work)
    procs.append(ch)
    # the whole run, to the minute (graphite-web's absolute range: the
    # page turns from/until in its URL into from=HH:MM_YYYYMMDD)
    frm = time.strftime("%Y-%m-%dT%H:%M:00", time.gmtime(since - 60))
    until = time.strftime("%Y-%m-%dT%H:%M:00", time.gmtime(time.time() + 120))
    ch.navigate(gw.base + "/dashboard/heapwatch?from=%s&until=%s" % (frm, until))
    imgs = []

    def ready():
        got = ch.evaluate(IMAGES_JS) or []
        imgs[:] = got
        return len(got) >= ngraphs and all(i["complete"] and i["w"] > 0 for i in got)
    try:
        wait_for(ready, 90, "%d graph images to load in Chromium" % ngraphs)
    except RuntimeError as ex:
        R.bad("Chromium shows the dashboard's graphs", "%s: %s" % (ex, imgs))
    time.sleep(1)
    imgs = ch.evaluate(IMAGES_JS)
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "graphite-dashboard.png")
    data = ch.screenshot(shot)
    w, h = struct.unpack(">II", data[16:24])
    # a blank page of this size compresses to a few kilobytes
    R.check("screenshot %s: a %dx%d PNG of %d KiB" % (shot, w, h, len(data) // 1024),
            data[:8] == b"\x89PNG\r\n\x1a\n" and (w, h) == ch.size and len(data) > 64 * 1024)
    R.check("Chromium shows %d graph images (dashboard has %d)" % (len(imgs), ngraphs),
            len(imgs) == ngraphs, str([i["src"][:80] for i in imgs]))
    errors = [e for e in ch.errors() if "fonts.googleapis.com" not in e and "favicon" not in e]
    R.check("the page threw no error", not errors, "\n".join(errors))
    dialogs = ch.evaluate("Array.from(document.querySelectorAll('.x-window')).filter("
                          "w => w.offsetParent !== null).map(w => w.innerText)")
    R.check("the page shows no dialog", not dialogs, str(dialogs))
    titles = dict((g[1]["title"], g[0]) for g in graphs)
    for i in imgs:
        q = dict(gstack.urllib.parse.parse_qsl(gstack.urllib.parse.urlparse(i["src"]).query))
        title = q.get("title", i["src"][:60])
        if needs.get(titles.get(title)) == "verdict" and not verdict_sent:
            R.skip("graph '%s' non-blank" % title, "the daemon sends no verdict gauges yet "
                   "(issue 9): 'No Data'")
            continue
        R.check("graph '%s': %dx%d PNG, %d colours, %.1f%% not background" % (
            title, i["w"], i["h"], i.get("colours", 0), 100 * i.get("other", 0)),
            i["w"] > 0 and i.get("colours", 0) >= 4 and i.get("other", 0) > 0.005, str(i)[:300])
        # the same URL, fetched: graphite-web answers a PNG
        body = gw.get(i["src"][len(gw.base):])
        if body[:8] != b"\x89PNG\r\n\x1a\n":
            R.bad("graph '%s' is a PNG" % title, repr(body[:40]))
    note("screenshot: %s (graphite-web dashboard 'heapwatch' in headless Chromium, "
         "%d graphs: %s)" % (shot, len(imgs), "; ".join(
             p[1]["title"] for p in json.loads(state)["graphs"])))
    # The same dashboard with the valley bucket compressed like the run
    # (10min -> 20s), so that the valleys and growth panels show the leak.
    fast = state.replace("'10min'", "'20s'")
    gw.post("/dashboard/save/heapwatch-20s", {"state": fast})
    ch.navigate(gw.base + "/dashboard/heapwatch-20s?from=%s&until=%s" % (frm, until))
    try:
        wait_for(ready, 90, "the 20s-bucket dashboard")
        time.sleep(1)
        shot2 = os.path.join(ARTIFACTS, "graphite-dashboard-20s-bucket.png")
        ch.screenshot(shot2)
        note("screenshot: %s (the same with movingMin over 20s instead of 10min: "
             "valley trends and growing types of this short run)" % shot2)
    except RuntimeError as ex:
        R.bad("the 20s-bucket variant loads", str(ex))


def check_series_end(capture, churn, gw):
    """A type that the new worker in a slot does not select is no longer
    sent, and its series ends (statsd's deleteGauges, gaugesMaxTTL 5 s
    here), while the slot's own series go on.  One churn worker gets
    LeakyThings (a watched type), then is recycled; its successor has none."""
    def slot_of(marked):
        for k, (_, v) in capture.poll().items():
            if (k.startswith("heapwatch.churn.w") and k.endswith(".pid") and
                    int(float(v)) == marked):
                slot = k.split(".")[2]
                if "heapwatch.churn.%s.types.leakyapp_LeakyThing" % slot in capture.poll():
                    return slot
        return None
    # A worker recycled before the daemon sampled it (a loaded machine)
    # never shows its LeakyThings: mark another one (three tries).
    for attempt in range(3):
        marked = churn.get("/leak?n=50")["pid"]
        try:
            slot = wait_for(lambda: slot_of(marked) or (marked not in churn.worker_pids() and "gone"),
                            60, "pid %d's LeakyThing gauge" % marked)
        except RuntimeError as ex:
            R.bad("a churn worker's watched type is sent", str(ex))
            return
        if slot != "gone":
            break
        note("marked worker %d recycled before it was sampled: another (try %d)" % (marked, attempt + 2))
    else:
        R.bad("a churn worker's watched type is sent", "three marked workers recycled before a sample")
        return
    end = time.time() + 30
    while marked in churn.worker_pids() and time.time() < end:
        try:
            churn.get("/")
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    gone = time.time()
    R.check("churn worker %d (slot %s) recycled" % (marked, slot), marked not in churn.worker_pids())
    time.sleep(10)
    t = "%s.churn.%s.types.leakyapp_LeakyThing" % (PREFIX, slot)
    pts = nonnull(sum((p for _, p in gw.render(t, "-5min")), []))
    last = max([ts for _, ts in pts] or [0])
    rss = series_after(gw, "%s.churn.%s.rss_bytes" % (PREFIX, slot), gone + 7)
    R.check("%s: %d points, the last %.0f s after pid %d was recycled, none since; the slot's "
            "rss_bytes goes on (%d points)" % (t, len(pts), last - gone, marked, len(rss)),
            pts and last <= gone + 7 and len(rss) >= 2, str(pts[-5:]))


def check_install():
    """make install DESTDIR=... puts both dashboards and the examples in
    DATADIR/heapwatch."""
    dest = os.path.join(work, "destdir")
    p = subprocess.run(["make", "-s", "-C", ROOT, "install", "DESTDIR=" + dest, "PREFIX=/usr"],
                       capture_output=True, text=True)
    R.check("make install DESTDIR=%s PREFIX=/usr" % dest, p.returncode == 0, p.stdout + p.stderr)
    for sub, names, src in (("dashboards", ["graphite-web.json", "grafana.json"], DASH),
                            ("examples", ["storage-schemas.conf", "storage-aggregation.conf",
                                          "statsd-config.js"], CONF)):
        for n in names:
            path = os.path.join(dest, "usr", "share", "heapwatch", sub, n)
            R.check("installed %s" % path[len(dest):], os.path.exists(path) and
                    open(path, "rb").read() == open(os.path.join(src, n), "rb").read())


def main():
    why = gstack.missing()
    if why:
        for w in why:
            print("SKIP %s" % w)
        sys.exit(77)
    capture = gstack.LineCapture()
    procs.append(capture)
    carbon = gstack.Carbon(work, SCHEMAS, AGGREGATION, max_creates=50, metric_interval=5)
    procs.append(carbon)
    statsd = gstack.Statsd(work, carbon.line_port, flush_ms=1000, delete_gauges=True,
                           gauges_ttl=5, repeater_port=capture.port)
    procs.append(statsd)
    # carbon's and statsd's own series are created first, then carbon is
    # restarted with a full create budget: every create after that is
    # heapwatch's.
    wait_for(lambda: any(f.startswith("carbon.agents.") for f in carbon.files()) and
             any(f.startswith("stats.statsd.") for f in carbon.files()), 60,
             "carbon's and statsd's own series")
    carbon.stop()
    carbon.start()
    stack_files = set(carbon.files())
    gw = gstack.GraphiteWeb(work, carbon)
    procs.append(gw)
    webdir, churndir = os.path.join(work, "web"), os.path.join(work, "churn")
    os.makedirs(webdir)
    os.makedirs(churndir)
    web = Gunicorn(webdir, workers=2)
    procs.append(web)
    churn = Gunicorn(churndir, workers=2, max_requests=4)
    procs.append(churn)
    # The leak is the top 2 types (list, LeakyThing) of both web workers
    # from the first sample on, so the names stay under 80 (two minutes of
    # the budget) whatever the timing.
    leaks = {}
    wait_for(lambda: (lambda r: leaks.__setitem__(r["pid"], r["leaks"]))(
        web.get("/leak?n=5000")) or (len(leaks) == 2 and min(leaks.values()) >= 20000), 60,
        "both web workers to hold 20000 LeakyThing")
    conf = os.path.join(work, "heapwatch.yaml")
    write_config(conf, statsd.port, web, churn)
    dlog = open(os.path.join(work, "daemon.log"), "w")
    d = subprocess.Popen([HEAPWATCH, "daemon", "--config", conf], stdout=dlog,
                         stderr=subprocess.STDOUT)
    procs.append(d)
    daemon_start = time.time()
    info("stack up in %s (carbon restarted with %d files of its own and statsd's)" % (
        elapsed(), len(stack_files)))
    load = Load(web, churn)
    procs.append(load)

    # statsd, then carbon, down for a few seconds and back
    time.sleep(20)
    statsd.stop()
    time.sleep(4)
    statsd.start()
    statsd_back = time.time()
    time.sleep(10)
    carbon.stop()
    time.sleep(4)
    carbon.start()
    carbon_back = time.time()
    info("statsd down and back at +%.0fs, carbon at +%.0fs" % (statsd_back - daemon_start,
                                                               carbon_back - daemon_start))

    # until every name has its file (the budget spreads them over minutes)
    # and the churn target recycled enough
    def settled():
        names = capture.poll()
        waiting = names.get("heapwatch.heapwatch.series_waiting", (0, None))[1]
        return (load.recyclings() >= RECYCLINGS and waiting == "0" and
                time.time() - carbon_back > 10)
    wait_for(settled, LIMIT_S - (time.time() - T0), "%d recyclings and no name waiting" %
             RECYCLINGS)
    check_series_end(capture, churn, gw)   # also gives every series more points
    names = dict((n, v) for n, v in capture.poll().items() if n.startswith("heapwatch."))
    info("daemon ran %.0fs; churn recycled %d workers (%d pids); load errors %d" % (
        time.time() - daemon_start, load.recyclings(), len(load.churn_pids), load.errors))
    R.check("%d worker recyclings" % load.recyclings(), load.recyclings() >= RECYCLINGS)

    # -- the render API: the leaking type, rising, per worker slot, ending
    # at the worker's own count (leak traffic stopped, one more flush)
    load.leaking = False
    time.sleep(3)
    names = dict((n, v) for n, v in capture.poll().items() if n.startswith("heapwatch."))
    rose = 0
    for slot in slots_of(names, "web"):
        pid = int(float(names["heapwatch.web.%s.pid" % slot][1]))
        own = load.leaks.get(pid)
        t = "%s.web.%s.types.leakyapp_LeakyThing" % (PREFIX, slot)
        vals = [v for v, _ in nonnull(sum((p for _, p in gw.render(t, "-5min")), []))]
        falls = sum(1 for a, b in zip(vals, vals[1:]) if b < a)
        R.check("render %s (pid %d): %d points, %s -> %s, never falls, ends at the worker's "
                "own len(LEAKS) %s" % (t, pid, len(vals), vals[0] if vals else None,
                                      vals[-1] if vals else None, own),
                len(vals) >= 5 and falls == 0 and own is not None and vals[-1] == own,
                str(vals))
        rose += bool(vals) and vals[-1] > vals[0]
    R.check("the leaking type's series rises in %d web slot(s)" % rose, rose >= 1)
    # the RSS series of every slot of both targets
    for target in ("web", "churn"):
        slots = slots_of(names, target)
        got = dict((n, nonnull(p)) for n, p in gw.render(
            "aliasByNode(%s.%s.w*.rss_bytes, -2)" % (PREFIX, target)))
        R.check("render %s.%s.w*.rss_bytes: every slot %s has points (%s)" % (
            PREFIX, target, slots, dict((k, len(v)) for k, v in got.items())),
            slots and sorted(got) == slots and all(got[s] for s in slots), str(got.keys()))

    # -- statsd and carbon down and back: series resume
    for what, back in (("statsd", statsd_back), ("carbon", carbon_back)):
        for target in ("web.w0.rss_bytes", "churn.all.rss_bytes", "heapwatch.samples_taken"):
            pts = series_after(gw, "%s.%s" % (PREFIX, target), back + 2)
            R.check("%s down and back: %s has %d points after" % (what, target, len(pts)),
                    len(pts) >= 3)
    R.check("daemon still running", d.poll() is None, str(d.poll()))

    # -- heapwatch status gives the slot of each process, as the pid gauges do
    st = subprocess.run([HEAPWATCH, "status", "--json", "--status-file",
                         os.path.join(work, "status.json")], capture_output=True, text=True)
    names = dict((n, v) for n, v in capture.poll().items() if n.startswith("heapwatch."))
    try:
        doc = json.loads(st.stdout)
        in_status = dict(("%s.%s" % (t["name"], p["slot"]), p["pid"]) for t in doc["targets"]
                         for p in t["processes"])
    except (ValueError, KeyError) as ex:
        in_status = {"error": repr(ex)}
    gauges = dict((".".join(n.split(".")[1:3]), int(float(v[1]))) for n, v in names.items()
                  if n.endswith(".pid") and n.split(".")[2].startswith("w"))
    R.check("heapwatch status --json maps slots to pids as the pid gauges do: %s" % in_status,
            in_status == gauges, "status %s, gauges %s (%s)" % (in_status, gauges, st.stderr))

    # -- whisper files: exactly what heapwatch sent, bounded by slots
    files = set(f for f in carbon.files("stats.gauges.heapwatch"))
    sent = set("stats.gauges." + n for n in names)
    R.check("every name heapwatch sent has its whisper file (%d of %d)" % (
        len(sent & files), len(sent)), sent <= files, str(sorted(sent - files)[:20]))
    R.check("no whisper file heapwatch did not ask for", files <= sent,
            str(sorted(files - sent)[:20]))
    # Every name is one of: a health figure, a fixed metric of a slot or of
    # the aggregate, or types.<T> / growth.<T> for a type T that slot (or
    # the aggregate) selected.  So the files are bounded by the slots and
    # their selected types, whatever the number of processes.
    health = sorted(n for n in names if n.startswith("heapwatch.heapwatch."))
    bound = len(health)
    odd = []
    for target in ("web", "churn"):
        slots = slots_of(names, target)
        mine = [n[len("heapwatch.%s." % target):] for n in names
                if n.startswith("heapwatch.%s." % target)]
        need = 0
        selected = {}
        for node in slots + ["all"]:
            metrics = [m[len(node) + 1:] for m in mine if m.startswith(node + ".")]
            fixed = PER_SLOT if node != "all" else PER_AGG
            types = set(m.split(".", 1)[1] for m in metrics if m.startswith("types."))
            selected[node] = len(types)
            odd += ["%s.%s.%s" % (target, node, m) for m in metrics
                    if m not in fixed and not (m.split(".", 1)[0] in ("types", "growth") and
                                               m.split(".", 1)[1] in types)]
            need += len(fixed) + 2 * len(types)
        bound += need
        R.check("target %s: %d slots %s for 2 workers" % (target, len(slots), slots),
                len(slots) <= 3, str(slots))
        info("target %s: slots %s, types selected %s: at most %d series" % (
            target, slots, selected, need))
    R.check("every name is a health figure, a slot's or the aggregate's metric, or one of "
            "its selected types", not odd, str(odd[:10]))
    R.check("whisper files %d <= what the slots and selected types need (%d)" % (
        len(files), bound), len(files) <= bound)
    # by pid: each process would have had a set of names of its own
    in_slots = [n for n in names if n.split(".")[2].startswith("w")]
    nslots = len(set(".".join(n.split(".")[:3]) for n in in_slots))
    pids = 2 + len(load.churn_pids)
    by_pid = len(files) - len(in_slots) + pids * len(in_slots) // max(nslots, 1)
    note("whisper files under stats/gauges/heapwatch: %d (%d health, %d in %d slots); by pid "
         "instead of slot, the %d processes would have needed about %d; command: find %s "
         "-name '*.wsp' | wc -l" % (len(files), len(health), len(in_slots), nslots, pids, by_pid,
                                    os.path.join(carbon.whisper, "stats", "gauges",
                                                 "heapwatch")))

    # -- carbon dropped no creates, and heapwatch stayed under its budget
    dropped = sum(v for _, pts in gw.render("carbon.agents.*.droppedCreates", "-15min")
                  for v, _ in nonnull(pts))
    creates = sum(v for _, pts in gw.render("carbon.agents.*.creates", "-15min")
                  for v, _ in nonnull(pts))
    R.check("carbon dropped no creates (droppedCreates %d, creates %d)" % (dropped, creates),
            dropped == 0 and creates > 0)
    stamps = sorted(ts for ts, n in carbon.creates() if n.startswith("stats.gauges.heapwatch."))
    worst = max([sum(1 for s in stamps if t <= s < t + 60) for t in stamps] or [0])
    firsts = sorted(first for first, _ in names.values())
    # as statsd received them (the repeater's copy): 1 s of slack for the
    # capture's own timing
    sent_worst = max([sum(1 for s in firsts if t <= s < t + 59) for t in firsts] or [0])
    deferred = int(float(names.get("heapwatch.heapwatch.series_deferred", (0, "0"))[1]))
    note("heapwatch's new names: at most %d in any 59 s at statsd (budget 40); carbon created "
         "%d files, at most %d in any 60 s of its log (statsd's flush shifts them; carbon "
         "allows 50 a minute as a token bucket); %d lines deferred by the budget" % (
             sent_worst, len(stamps), worst, deferred))
    R.check("at most 40 new names in any 59 s reached statsd (%d)" % sent_worst,
            sent_worst <= 40)
    R.check("the budget held names back (series_deferred %d)" % deferred, deferred > 0)

    # -- dashboards
    check_install()
    check_dashboard_targets(gw, names)
    check_browser(gw, names, daemon_start)

    R.check("statsd saw no bad lines", statsd.bad_lines() == 0)
    load.close()
    d.send_signal(signal.SIGTERM)
    R.check("daemon exits 0 on SIGTERM", d.wait(30) == 0)
    note("pipeline test took %s" % elapsed())


try:
    main()
except Exception as ex:
    import traceback
    traceback.print_exc()
    R.bad("graphite pipeline", repr(ex))
    try:
        print(open(os.path.join(work, "daemon.log")).read()[-3000:])
    except OSError:
        pass
finally:
    for p in reversed(procs):
        try:
            if isinstance(p, subprocess.Popen):
                if p.poll() is None:
                    p.kill()
                    p.wait()
            else:
                p.close()
        except Exception:
            pass
    if os.environ.get("HW_KEEP"):
        print("kept %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
R.exit()
