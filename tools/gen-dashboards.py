#!/usr/bin/python3
# gen-dashboards.py - write dashboards/graphite-web.json and
# dashboards/grafana.json from the one list of panels below, so the two
# dashboards always show the same things.  `make dashboards` runs it;
# tests/integration/test_graphite.py checks that the files are up to date
# and that every target of both returns data from a real graphite-web.
#
# Metric paths (heapwatch.yaml(5)): <prefix>.<target>.<slot>.<metric>, the
# slot being w0, w1 ... or "all", and the daemon's own figures under
# <prefix>.heapwatch.<name>.  Stock Etsy statsd files gauges under
# "stats.gauges.", so with heapwatch's default prefix the full prefix is
# stats.gauges.heapwatch.  Node numbers in aliasByNode() count from the
# end (negative), so any prefix depth works.
import json
import os
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "dashboards")

DEFAULT_PREFIX = "stats.gauges.heapwatch"
DEFAULT_BUCKET = "10min"

# Each panel: title, what it answers (description), unit, targets written
# with $prefix, $target, $slot and $bucket (Grafana's variables; the
# graphite-web dashboard gets the defaults and wildcards), and which
# heapwatch feature sends its data (for the tests: "verdict" panels need
# the daemon's verdict gauges).
PANELS = [
    dict(id="rss", title="RSS per worker, and the trend of its valleys", unit="bytes",
         description="Resident memory of each worker slot (w0, w1 ...), with a straight line "
                     "fitted to its valleys (the minimum over each $bucket, after collections). "
                     "A sawtooth whose valley line stays flat is healthy; a valley line that "
                     "climbs is a leak, whatever the peaks do.",
         targets=["aliasByNode($prefix.$target.$slot.rss_bytes, -3, -2)",
                  "aliasSub(aliasByNode(linearRegression(movingMin($prefix.$target.$slot.rss_bytes, "
                  "'$bucket')), -3, -2), '$', ' valleys')"]),
    dict(id="pss", title="PSS per worker, and the trend of its valleys", unit="bytes",
         description="Proportional set size: memory shared with the master and the other "
                     "workers counted in part.  When RSS climbs but PSS does not, the workers "
                     "are only touching shared pages (copy-on-write), not leaking.",
         targets=["aliasByNode($prefix.$target.$slot.pss_bytes, -3, -2)",
                  "aliasSub(aliasByNode(linearRegression(movingMin($prefix.$target.$slot.pss_bytes, "
                  "'$bucket')), -3, -2), '$', ' valleys')"]),
    dict(id="growing", title="Which type is growing: slope of its valleys, objects per hour",
         unit="short",
         description="For each worker and type, the change of the type's valleys (movingMin over "
                     "$bucket), per hour; the 10 highest on average.  A plain derivative "
                     "(not nonNegativeDerivative, which drops the falls after each collection "
                     "and makes every series look like it grows).  The type at the top, well "
                     "above zero for hours, is the leak.",
         targets=["aliasByNode(highestAverage(scaleToSeconds(derivative(movingMin("
                  "$prefix.$target.$slot.types.*, '$bucket')), 3600), 10), -4, -3, -1)"]),
    dict(id="types", title="Objects per type, most numerous (target total)", unit="short",
         description="Live objects of the 10 most numerous types, summed over the target's "
                     "processes.  What the heap is made of; a leak rarely starts at the top.",
         targets=["aliasByNode(highestMax($prefix.$target.all.types.*, 10), -4, -1)"]),
    dict(id="verdict", title="Verdict per worker", unit="none", needs="verdict",
         description="The daemon's verdict for each worker and for the target: 0 warming "
                     "(too young to judge), 1 steady (sawtooth), 2 plateau (a cache that "
                     "filled up), 3 early explosion, 4 surge, 5 leak.",
         targets=["aliasByNode($prefix.$target.$slot.verdict, -3, -2)",
                  "aliasByNode($prefix.$target.all.verdict, -3, -2)"]),
    dict(id="growth", title="Growth per type (objects/h) and of RSS (bytes/h, right), "
         "the daemon's estimates", unit="short", needs="verdict",
         right=dict(suffix=" rss bytes/h", unit="bytes"),
         description="The Theil-Sen slope of each sent type's valleys, as the daemon computes "
                     "it for its verdict (the 10 largest), and of each worker's RSS valleys "
                     "(right axis).",
         targets=["aliasByNode(highestMax($prefix.$target.$slot.growth.*, 10), -4, -3, -1)",
                  "aliasSub(aliasByNode(secondYAxis("
                  "$prefix.$target.$slot.rss_growth_bytes_per_hour), -3, -2), '$', "
                  "' rss bytes/h')"]),
    dict(id="pids", title="Which process holds each slot", unit="none",
         description="The pid in each worker slot: a step is a worker replaced (gunicorn's "
                     "max_requests, a crash, a reload); the slot's series go on with the new "
                     "worker.  The daemon's log says the same: 'pid 4310 appeared, slot w1 "
                     "(was pid 4242)'.",
         targets=["aliasByNode($prefix.$target.$slot.pid, -3, -2)"]),
    dict(id="pause", title="heapwatch: pause of the targets, microseconds", unit="us",
         description="How long the daemon stopped a target for its last census, and the "
                     "longest pause so far.",
         targets=["aliasByNode($prefix.heapwatch.{last_pause_us,max_pause_us}, -1)",
                  "aliasSub(aliasByNode($prefix.$target.$slot.pause_us, -3, -2), '$', ' pause_us')"]),
    dict(id="health", title="heapwatch: failures per minute (statsd unreachable, "
         "ms/min, right)", unit="short",
         right=dict(suffix=" unreachable ms", unit="ms"),
         description="Samples that failed (a process exited, was not CPython, or a collection "
                     "ran), samples dropped from a full ring, failed sends to statsd and "
                     "look-ups of its name, target threads a census could not give back at "
                     "once, metric lines held back by "
                     "max_new_series_per_minute, and how many milliseconds of each minute "
                     "statsd could not be reached (right axis); totals since start turned into "
                     "rates (nonNegativeDerivative is right here: these only grow, and a "
                     "restart resets them).",
         targets=["aliasByNode(scaleToSeconds(nonNegativeDerivative($prefix.heapwatch."
                  "{samples_failed,samples_dropped,send_errors,resolve_errors,detach_failures,"
                  "series_deferred}), "
                  "60), -1)",
                  "aliasSub(aliasByNode(secondYAxis(scaleToSeconds(nonNegativeDerivative("
                  "$prefix.heapwatch.unreachable_ms), 60)), -1), 'unreachable_ms', "
                  "'statsd unreachable ms')"]),
    dict(id="unsent", title="heapwatch: unsent samples, names waiting, types held back",
         unit="short",
         description="Samples in the ring not yet sent to statsd (grows while statsd is "
                     "unreachable), new metric names waiting for max_new_series_per_minute "
                     "(nonzero for a few minutes after a start), and types that max_types "
                     "keeps out of the processes' selections.",
         targets=["aliasByNode($prefix.heapwatch.{ring_len,series_waiting,types_held_back}, -1)"]),
]


def strip_call(expr, fn):
    """expr without the calls of fn around their argument: Graphite's
    secondYAxis() only means something to graphite-web's own PNGs; Grafana
    puts series on the right axis by an override."""
    while fn + "(" in expr:
        start = expr.index(fn + "(")
        i, depth = start + len(fn) + 1, 1
        while depth:
            depth += {"(": 1, ")": -1}.get(expr[i], 0)
            i += 1
        expr = expr[:start] + expr[start + len(fn) + 1:i - 1] + expr[i:]
    return expr


def fill(expr, prefix, target, slot, bucket):
    return (expr.replace("$prefix", prefix).replace("$target", target)
            .replace("$slot", slot).replace("$bucket", bucket))


def graphite_web(prefix=DEFAULT_PREFIX):
    """graphite-web's saved-dashboard state (dashboard/save, dashboard/load)."""
    width, height = 600, 300
    graphs = []
    for p in PANELS:
        # every target and every worker slot: wildcards
        targets = [fill(t, prefix, "*", "w*", DEFAULT_BUCKET) for t in p["targets"]]
        params = {"target": targets, "title": p["title"], "hideLegend": "false",
                  "lineWidth": "2"}
        if p["unit"] == "bytes":
            params["yUnitSystem"] = "binary"
        if p["id"] == "verdict":
            params.update({"yMin": "0", "yMax": "5", "vtitle": "0 warming .. 5 leak"})
        url = "/render?" + urllib.parse.urlencode(
            [("target", t) for t in targets] +
            [(k, v) for k, v in sorted(params.items()) if k != "target"] +
            [("from", "-6hours"), ("until", "now"), ("width", width), ("height", height)])
        graphs.append([p["id"], params, url])
    return {
        # No name: graphite-web takes it from the URL it is saved under, and
        # Debian 12's graphite-web (1.1.8-2) throws "htmlEncode is not
        # defined" while showing a state that has one (its backport of the
        # fix for CVE-2022-4728 calls a function it does not ship).
        "name": None,
        "timeConfig": {"type": "relative", "relativeStartQuantity": "6",
                       "relativeStartUnits": "hours", "relativeUntilQuantity": "",
                       "relativeUntilUnits": "now", "startDate": "2026-01-01T00:00:00",
                       "startTime": "9:00 AM", "endDate": "2026-01-01T00:00:00",
                       "endTime": "5:00 PM"},
        "refreshConfig": {"enabled": True, "interval": 60000},
        "graphSize": {"width": width, "height": height},
        "defaultGraphParams": {"from": "-6hours", "until": "now", "width": width,
                               "height": height},
        "graphs": graphs,
    }


def grafana(prefix=DEFAULT_PREFIX):
    """A Grafana dashboard (JSON model), Graphite data source chosen by a
    variable so that it imports anywhere."""
    ds = {"type": "graphite", "uid": "${datasource}"}
    panels = []
    for i, p in enumerate(PANELS):
        panel = {
            "id": i + 1,
            "type": "timeseries",
            "title": p["title"].replace("$bucket", "${bucket}"),
            "description": p["description"].replace("$bucket", "${bucket}"),
            "datasource": ds,
            "gridPos": {"h": 9, "w": 12, "x": 12 * (i % 2), "y": 9 * (i // 2)},
            "targets": [{"refId": chr(ord("A") + k), "target": strip_call(t, "secondYAxis"),
                         "datasource": ds}
                        for k, t in enumerate(p["targets"])],
            "fieldConfig": {"defaults": {"unit": p["unit"], "custom": {"lineWidth": 1,
                                                                      "spanNulls": True}},
                            "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "right",
                                   "showLegend": True, "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
        }
        if any("valleys" in t for t in p["targets"]):
            panel["fieldConfig"]["overrides"].append({
                "matcher": {"id": "byRegexp", "options": ".* valleys$"},
                "properties": [{"id": "custom.lineStyle", "value": {"fill": "dash",
                                                                     "dash": [10, 10]}},
                               {"id": "custom.lineWidth", "value": 2}]})
        if "right" in p:
            panel["fieldConfig"]["overrides"].append({
                "matcher": {"id": "byRegexp", "options": ".*%s$" % p["right"]["suffix"]},
                "properties": [{"id": "custom.axisPlacement", "value": "right"},
                               {"id": "unit", "value": p["right"]["unit"]}]})
        if p["id"] == "verdict":
            panel["type"] = "state-timeline"
            names = ["warming", "steady", "plateau", "early_explosion", "surge", "leak"]
            colours = ["blue", "green", "purple", "orange", "yellow", "red"]
            panel["fieldConfig"]["defaults"]["mappings"] = [{
                "type": "value",
                "options": dict((str(v), {"text": n, "color": c, "index": v})
                                for v, (n, c) in enumerate(zip(names, colours)))}]
            panel["fieldConfig"]["defaults"]["color"] = {"mode": "thresholds"}
            panel["options"] = {"showValue": "auto", "mergeValues": True,
                                "legend": {"showLegend": False}}
        panels.append(panel)
    variables = [
        {"name": "datasource", "label": "Graphite", "type": "datasource", "query": "graphite",
         "current": {}, "hide": 0},
        {"name": "prefix", "label": "Prefix", "type": "textbox",
         "query": prefix, "current": {"text": prefix, "value": prefix}, "hide": 0,
         "description": "statsd's namespace and heapwatch's statsd.prefix: stats.gauges.heapwatch "
                        "for a stock Etsy statsd and the default prefix"},
        {"name": "target", "label": "Target", "type": "query", "datasource": ds,
         "query": "$prefix.*", "definition": "$prefix.*", "regex": "/^(?!heapwatch$).*/",
         "multi": True, "includeAll": True, "allValue": "*", "refresh": 2, "sort": 1,
         "current": {"text": "All", "value": "$__all"}, "hide": 0},
        {"name": "slot", "label": "Worker slot", "type": "query", "datasource": ds,
         "query": "$prefix.$target.*", "definition": "$prefix.$target.*",
         "regex": "/^w[0-9]+$/", "multi": True, "includeAll": True, "allValue": "w*",
         "refresh": 2, "sort": 3, "current": {"text": "All", "value": "$__all"}, "hide": 0},
        {"name": "bucket", "label": "Valley bucket", "type": "custom",
         "query": "5min,10min,30min,1h,6h", "multi": False, "includeAll": False,
         "current": {"text": DEFAULT_BUCKET, "value": DEFAULT_BUCKET},
         "options": [{"text": v, "value": v, "selected": v == DEFAULT_BUCKET}
                     for v in ["5min", "10min", "30min", "1h", "6h"]],
         "description": "movingMin window: longer than one sawtooth, shorter than the leak "
                        "(heapwatch's trend.bucket)", "hide": 0},
    ]
    return {
        "title": "heapwatch",
        "uid": "heapwatch",
        "description": "Python heap census per worker (heapwatch daemon, via statsd and Graphite)",
        "tags": ["heapwatch", "python", "memory"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "timezone": "",
        "graphTooltip": 1,
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels,
    }


def write(path, doc):
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        # exit 1 if the shipped files are not what this script writes
        stale = []
        for name, doc in (("graphite-web.json", graphite_web()), ("grafana.json", grafana())):
            want = json.dumps(doc, indent=2, sort_keys=True) + "\n"
            try:
                have = open(os.path.join(OUT, name)).read()
            except OSError:
                have = None
            if have != want:
                stale.append(name)
        if stale:
            print("dashboards out of date (run make dashboards): %s" % " ".join(stale))
            sys.exit(1)
        return
    os.makedirs(OUT, exist_ok=True)
    write(os.path.join(OUT, "graphite-web.json"), graphite_web())
    write(os.path.join(OUT, "grafana.json"), grafana())


if __name__ == "__main__":
    main()
