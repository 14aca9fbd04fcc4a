# test_daemon.py - heapwatch daemon against a real gunicorn (Debian's
# python3, DWARF from python3.11-dbg) and a real Etsy statsd: per-worker
# and aggregate gauges arrive, leaks show as growing type counts, recycled
# workers are followed, SIGHUP reloads (a broken file is refused with its
# file:line:column), SIGTERM exits 0 and leaves no target stopped.
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEAPWATCH, Results  # noqa: E402
from realstack import Gunicorn, Statsd, wait_for  # noqa: E402

R = Results()
work = tempfile.mkdtemp(prefix="hw-daemon-")
procs = []


def notify_listener(path, got):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.5)

    def loop():
        while not got.get("stop"):
            try:
                got.setdefault("msgs", []).append(s.recv(4096).decode())
            except socket.timeout:
                pass
        s.close()
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def write_config(path, statsd_port, pidfile, top=20, extra=""):
    with open(path, "w") as f:
        f.write("""interval: 500ms
flush_interval: 500ms
top_types: %d
max_new_series_per_minute: 100000   # every gauge at once (test_graphite.py tests the budget)
log_level: debug
status_file: %s/status.json
statsd:
  host: 127.0.0.1
  port: %d
  prefix: hwtest
targets:
  - name: web
    pidfile: %s
    children: true
%s""" % (top, os.path.dirname(path), statsd_port, pidfile, extra))
    os.chmod(path, 0o600)


try:
    if shutil.which("node") is None:
        R.skip("daemon", "node not installed")
        R.exit()
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        pass
    statsd = Statsd(work)
    procs.append(statsd)
    gun = Gunicorn(work, workers=2, max_requests=30)
    procs.append(gun)
    conf = os.path.join(work, "heapwatch.yaml")
    write_config(conf, statsd.port, gun.pidfile)

    rc = subprocess.run([HEAPWATCH, "check-config", conf], capture_output=True, text=True)
    R.check("check-config accepts the test config", rc.returncode == 0, rc.stderr)

    sock = os.path.join(work, "notify.sock")
    got = {}
    notify_listener(sock, got)
    log = open(os.path.join(work, "daemon.log"), "w")
    env = dict(os.environ, NOTIFY_SOCKET=sock)
    d = subprocess.Popen([HEAPWATCH, "daemon", "--config", conf], stdout=log, stderr=subprocess.STDOUT,
                         env=env)
    wait_for(lambda: any("READY=1" in m for m in got.get("msgs", [])), 30, "READY=1")
    R.ok("daemon sends READY=1")
    if os.geteuid() == 0:
        with open("/proc/%d/status" % d.pid) as f:
            capeff = [l.split()[1] for l in f if l.startswith("CapEff")][0]
        R.check("daemon keeps only CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH (CapEff %s)" % capeff,
                int(capeff, 16) == (1 << 19) | (1 << 2), capeff)

    workers = gun.worker_pids()
    for _ in range(10):
        gun.get("/leak?n=500")

    def worker_gauges():
        # the growth selection sends LeakyThing from a worker's second
        # sample on: wait for a whole round (both workers and all) to land
        g = statsd.gauges()
        return [k for k in g if k.startswith("hwtest.web.") and k.endswith(".types.leakyapp_LeakyThing")
                and ".all." not in k] and "hwtest.web.all.gc_objects" in g and \
            len([k for k in g if k.startswith("hwtest.web.w") and k.endswith(".pid")]) >= 2 and g
    g = wait_for(worker_gauges, 30, "per-worker LeakyThing gauges")
    leak_keys = [k for k in g if k.endswith(".types.leakyapp_LeakyThing") and ".all." not in k]
    R.check("per-worker type gauges: %s" % leak_keys[:2], len(leak_keys) >= 1, str(sorted(g)[:20]))
    slot_nodes = set(k.split(".")[2] for k in leak_keys)
    R.check("per-worker gauges are filed by worker slot (%s)" % sorted(slot_nodes),
            slot_nodes <= set(["w0", "w1"]), str(slot_nodes))
    slot_pids = dict((k.split(".")[2], int(v)) for k, v in g.items()
                     if k.startswith("hwtest.web.w") and k.endswith(".pid"))
    R.check("each slot's pid gauge names a live worker (%s)" % slot_pids,
            set(slot_pids) == set(["w0", "w1"]) and set(slot_pids.values()) <= set(workers) | set(
                gun.worker_pids()), "%s vs %s" % (slot_pids, workers))
    for m in ("rss_bytes", "pss_bytes", "gc_objects", "pause_us"):
        R.check("aggregate hwtest.web.all.%s" % m, g.get("hwtest.web.all." + m, 0) > 0,
                str(g.get("hwtest.web.all." + m)))
    total_before = g.get("hwtest.web.all.types.leakyapp_LeakyThing", 0)
    for _ in range(6):
        gun.get("/leak?n=1000")
    g2 = wait_for(lambda: (lambda x: x if x.get("hwtest.web.all.types.leakyapp_LeakyThing", 0) >
                                    total_before else None)(statsd.gauges()), 30, "LeakyThing to grow")
    R.check("aggregate LeakyThing count grows (%d -> %d)" % (
        total_before, g2["hwtest.web.all.types.leakyapp_LeakyThing"]), True)
    R.check("no bad lines reached statsd", statsd.bad_lines() == 0, str(statsd.bad_lines()))
    R.check("daemon health gauges", any(k.startswith("hwtest.heapwatch.") for k in g2),
            str([k for k in g2 if "heapwatch" in k][:5]))

    # max_requests recycles workers: new pids must show up
    def recycled():
        # keep requesting until max_requests retires a worker (bounded)
        for _ in range(10):
            try:
                gun.get("/")
            except OSError:
                pass
        return [p for p in gun.worker_pids() if p not in workers]
    new = wait_for(recycled, 60, "recycled workers")
    g3 = wait_for(lambda: (lambda x: x if new[0] in [int(v) for k, v in x.items()
                                                      if k.startswith("hwtest.web.w") and k.endswith(".pid")]
                           else None)(statsd.gauges()), 30, "a slot's pid gauge to name recycled worker %d" % new[0])
    slots_now = sorted(k.split(".")[2] for k in g3 if k.startswith("hwtest.web.w") and k.endswith(".pid"))
    R.check("recycled worker %d sampled in a slot it took over (slots %s)" % (new[0], slots_now),
            slots_now == ["w0", "w1"], str(slots_now))
    text = open(os.path.join(work, "daemon.log")).read()
    R.check("the log says which slot changed hands",
            ("pid %d appeared, slot w" % new[0]) in text and "(was pid " in text, text[-800:])

    said = [text.count("pid %d: CPython " % w) for w in workers]
    R.check("the log names each worker's CPython and layout source once (%s)" % said,
            said == [1] * len(workers) and re.search(r"pid %d: CPython 3\.\d+\.\d+\S*, layout from \w+"
                                                      % workers[0], text), text[-800:])

    # a broken reload is refused and named; the daemon keeps running
    with open(conf, "a") as f:
        f.write("bogus_key: 1\n")
    d.send_signal(signal.SIGHUP)
    time.sleep(1.5)
    log.flush()
    text = open(os.path.join(work, "daemon.log")).read()
    R.check("broken reload refused with file:line:column", (conf + ":") in text and "bogus_key" in text
            and d.poll() is None, text[-500:])

    def pids_by_slot():
        return dict((k.split(".")[2], int(v)) for k, v in statsd.gauges().items()
                    if k.startswith("hwtest.web.w") and k.endswith(".pid"))
    before = pids_by_slot()
    write_config(conf, statsd.port, gun.pidfile, top=5)
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded" in open(os.path.join(work, "daemon.log")).read(), 10, "reload")
    R.ok("valid reload swapped in")
    statsd.command("delgauges " + " ".join("hwtest.web.%s.pid" % s for s in before))
    after = wait_for(lambda: len(pids_by_slot()) == len(before) and pids_by_slot(), 10,
                     "the pid gauges after the reload")
    R.check("a reload keeps each worker in its slot (%s, then %s)" % (before, after),
            before == after and sorted(before.values()) == gun.worker_pids(),
            "%s vs %s, workers %s" % (before, after, gun.worker_pids()))
    text = open(os.path.join(work, "daemon.log")).read()
    text = text[text.rindex("reloaded"):]
    R.check("... without handing slots out again", all(
        "pid %d appeared" % p not in text for p in before.values()), text[-800:])

    d.send_signal(signal.SIGTERM)
    rc = d.wait(30)
    R.check("SIGTERM: exit 0", rc == 0, "rc %s" % rc)
    states = []
    for p in gun.worker_pids():
        with open("/proc/%d/stat" % p) as f:
            states.append(f.read().rsplit(")", 1)[1].split()[0])
    R.check("no worker left stopped (%s)" % "".join(states), all(s in "RS" for s in states), str(states))
    # the listener thread reads the socket on its own schedule
    end = time.time() + 5
    while time.time() < end and not any("STOPPING=1" in m for m in got.get("msgs", [])):
        time.sleep(0.1)
    R.check("STOPPING=1 sent", any("STOPPING=1" in m for m in got.get("msgs", [])), str(got.get("msgs")))
    got["stop"] = True
except Exception as ex:
    R.bad("daemon", repr(ex))
    try:
        print(open(os.path.join(work, "daemon.log")).read()[-3000:])
    except OSError:
        pass
finally:
    for p in reversed(procs):
        try:
            p.close()
        except Exception:
            pass
    try:
        d.kill()
    except Exception:
        pass
    shutil.rmtree(work, ignore_errors=True)
R.exit()
