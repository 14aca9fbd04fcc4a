# test_daemon_sizes.py - `sizes: true`: the daemon sends bytes.<type>
# beside types.<type> to a real Etsy statsd, with the values
# `heapwatch dump --sizes` gives for the same quiet target, "dict of X"
# rows included; without the key no bytes.* gauge is sent.
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEAPWATCH, Results, heapwatch  # noqa: E402
from realstack import Statsd, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
R = Results()
work = tempfile.mkdtemp(prefix="hw-daemon-sizes-")
procs = []


def config(path, port, pid, sizes):
    with open(path, "w") as f:
        f.write("""interval: 500ms
flush_interval: 500ms
top_types: 20
max_new_series_per_minute: 100000
watch_types: ["__main__.*", "dict of *"]
sizes: %s
status_file: %s/status.json
history:
  enabled: false
statsd:
  host: 127.0.0.1
  port: %d
  prefix: hwsz
targets:
  - name: sz
    pid: %d
""" % ("true" if sizes else "false", work, port, pid))
    os.chmod(path, 0o600)


def run_daemon(conf, statsd, want):
    log = open(os.path.join(work, "daemon.log"), "a")
    d = subprocess.Popen([HEAPWATCH, "daemon", "--config", conf], stdout=log,
                         stderr=subprocess.STDOUT)
    procs.append(d)
    try:
        return wait_for(lambda: (lambda g: g if want(g) else None)(statsd.gauges()), 30,
                        "the daemon's gauges")
    finally:
        d.terminate()
        R.check("daemon exits 0 on SIGTERM", d.wait(30) == 0)


try:
    if shutil.which("node") is None:
        R.skip("daemon sizes", "node not installed")
        R.exit()
    statsd = Statsd(work)
    procs.append(statsd)
    target = subprocess.Popen(["/usr/bin/python3.11", os.path.join(HERE, "sizes_target.py")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    procs.append(target)
    target.stdout.readline()
    rc, out, err = heapwatch("dump", "--json", "--sizes", target.pid)
    R.check("dump --sizes of the target", rc == 0, err)
    rows = dict((t["name"], t) for t in json.loads(out)["types"])
    conf = os.path.join(work, "heapwatch.yaml")

    config(conf, statsd.port, target.pid, True)
    g = run_daemon(conf, statsd, lambda g: any(k.endswith(".bytes.__main___Session")
                                               and ".all." not in k for k in g))
    per = dict((k.split(".", 3)[3], v) for k, v in g.items()
               if k.startswith("hwsz.sz.") and ".all." not in k)
    for name, metric in (("__main__.Session", "__main___Session"),
                         ("dict of __main__.Session", "dict_of___main___Session"),
                         ("list", "list")):
        want = rows.get(name, {}).get("bytes")
        got = per.get("bytes." + metric)
        R.check("bytes.%s = %s, as dump --sizes says" % (metric, got),
                want is not None and got is not None and int(got) == want,
                "dump %s, gauge %s; gauges %s" % (want, got, sorted(per)[:30]))
        R.check("types.%s sent beside it" % metric, ("types." + metric) in per, sorted(per)[:30])
    R.check("aggregate bytes: hwsz.sz.all.bytes.__main___Session",
            "hwsz.sz.all.bytes.__main___Session" in g, sorted(g)[:30])
    R.check("no bad lines reached statsd", statsd.bad_lines() == 0, str(statsd.bad_lines()))

    statsd.command("delgauges " + " ".join(k for k in g))
    config(conf, statsd.port, target.pid, False)
    g = run_daemon(conf, statsd, lambda g: any(k.endswith(".types.__main___Session") for k in g))
    R.check("sizes: false (the default) sends no bytes.* gauge",
            not [k for k in g if ".bytes." in k], [k for k in g if ".bytes." in k][:5])
    state = open("/proc/%d/stat" % target.pid).read().rsplit(")", 1)[1].split()[0]
    R.check("target left running (state %s)" % state, state in "RS")
finally:
    for p in reversed(procs):
        try:
            if hasattr(p, "close"):
                p.close()
            elif p.poll() is None:
                p.kill()
                p.wait()
        except Exception:
            pass
    shutil.rmtree(work, True)
R.exit()
