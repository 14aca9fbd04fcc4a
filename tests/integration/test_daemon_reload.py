# test_daemon_reload.py - a daemon that never falls over (issue 11): the
# real daemon, real statsd (npm), real CPython targets.
#   reload: SIGHUP with a deleted config file, a file that parses but fails
#     validation, (as root) a file others may write: refused, named, and the
#     running configuration keeps delivering; then an unresolvable statsd
#     host and a refused TCP statsd: accepted, the daemon keeps sampling
#     into its ring and says statsd is unreachable (log, STATUS=); then
#     statsd comes back on that port and receives what was sampled while it
#     was away, including a target that exited meanwhile.
#   start-up: in a private mount namespace whose /etc/hosts the test
#     rewrites, a host that does not resolve yet: READY=1, samples wait in
#     the ring, and arrive once the name resolves.
#   check-config: a host that does not resolve now is a warning naming the
#     key and file:line:column (exit 0); a real error still exits 2.
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEAPWATCH, Results, Target  # noqa: E402
from hwdaemon import Daemon, config_text, write_config  # noqa: E402
from realstack import Statsd, free_port, wait_for  # noqa: E402

PY = "/usr/bin/python3.11"
R = Results()
work = tempfile.mkdtemp(prefix="hw-reload-")
closers = []


STATUS = os.path.join(work, "status.json")


def cfg_text(*a, **k):
    return config_text(*a, status_file=STATUS, **k)


def later(obj):
    closers.append(obj)
    return obj


def gauge(sd, name):
    return sd.gauges().get(name)


def grows(sd, name, timeout=15):
    """Wait until gauge name at sd exceeds its current value."""
    v0 = gauge(sd, name) or 0
    wait_for(lambda: (gauge(sd, name) or 0) > v0, timeout, "%s to grow past %s" % (name, v0))
    return True


def buffered(d):
    """Samples waiting in the ring, from the daemon's STATUS=."""
    m = re.search(r"(\d+) buffered", d.notify.status())
    return int(m.group(1)) if m else -1


def free_both_port():
    """A port free for TCP and UDP both (statsd binds the same number)."""
    for _ in range(50):
        p = free_port()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", p))
            return p
        except OSError:
            pass
        finally:
            u.close()
    raise RuntimeError("no port free for both TCP and UDP")


def reload_scenarios(sd_a):
    conf = os.path.join(work, "reload.yaml")
    os.makedirs(os.path.join(work, "b"))
    t1 = later(Target(PY))
    good = cfg_text(sd_a.port, [("t1", "pid: %d" % t1.pid)], prefix="r1")
    write_config(conf, good)
    d = later(Daemon(work, conf, name="reload"))
    d.wait_ready()
    R.ok("daemon started, READY=1")
    d.wait(lambda: gauge(sd_a, "r1.t1.w0.pid") == t1.pid and gauge(sd_a, "r1.t1.w0.gc_objects"), 20,
           "r1 gauges at statsd A")
    R.ok("gauges of r1 arrive at statsd A")

    # Refused reloads: the old configuration keeps delivering.
    os.unlink(conf)
    d.hup()
    d.wait_log("reload refused")
    R.check("deleted config: refused, named (%s)" % d.since_mark().strip().splitlines()[-1][-90:],
            conf in d.since_mark() and "No such file" in d.since_mark(), d.since_mark())
    R.check("deleted config: r1 still delivered", d.wait(
        lambda: grows(sd_a, "r1.heapwatch.samples_taken"), 20, "r1 samples"))

    write_config(conf, good.replace("port: %d" % sd_a.port, "port: 70000"))
    d.hup()
    d.wait_log("reload refused")
    want = "%s:6:9: key 'statsd.port': 70000 is out of range 1..65535" % conf
    R.check("invalid value: refused with file:line:column", want in d.since_mark(), d.since_mark())
    R.check("invalid value: r1 still delivered", grows(sd_a, "r1.heapwatch.samples_taken"))

    if os.geteuid() == 0:
        write_config(conf, good.replace("prefix: r1", "prefix: rX"), mode=0o666)
        d.hup()
        d.wait_log("reload refused")
        R.check("file writable by others: refused as root", "writable by others" in d.since_mark(),
                d.since_mark())
        R.check("file writable by others: r1 still delivered",
                grows(sd_a, "r1.heapwatch.samples_taken"))
    else:
        R.skip("file writable by others", "not root")

    # An unresolvable host: taken, sampling goes on, statsd unreachable.
    write_config(conf, cfg_text(sd_a.port, [("t1", "pid: %d" % t1.pid)], prefix="r2",
                                   host="statsd.heapwatch.invalid"))
    d.hup()
    d.wait_log("reloaded")
    d.wait_log("statsd.heapwatch.invalid")
    d.wait(lambda: "statsd unreachable" in d.notify.status(), 15, "STATUS statsd unreachable")
    n0 = d.notify.status()
    d.wait(lambda: d.notify.status() != n0, 10, "STATUS to move on")
    R.ok("unresolvable host: daemon running, sampling, STATUS=%s" % d.notify.status())

    # A refused TCP statsd, and a second target that exits while it is down.
    port_b = free_both_port()
    t2 = later(Target(PY))
    write_config(conf, cfg_text(port_b, [("t1", "pid: %d" % t1.pid), ("t2", "pid: %d" % t2.pid)],
                                   prefix="r3", protocol="tcp"))
    d.hup()
    d.wait_log("reloaded")
    d.wait(lambda: "Connection refused" in d.notify.status(), 15, "STATUS connection refused")
    R.ok("refused TCP statsd: daemon running, STATUS=%s" % d.notify.status())
    d.wait_log("pid %d appeared" % t2.pid)
    b0 = buffered(d)
    d.wait(lambda: buffered(d) >= b0 + 6, 15, "samples buffered")
    t2pid = t2.pid
    t2.close()
    d.wait_log("pid %d is gone" % t2pid)
    R.ok("t2 (pid %d) sampled while statsd was away, then exited" % t2pid)

    # statsd comes back on that port: what the ring held arrives.
    sd_b = later(Statsd(os.path.join(work, "b"), port=port_b))
    # t2 is gone: its gauges can only come from the ring
    got = d.wait(lambda: gauge(sd_b, "r3.t2.w0.pid") == t2pid and gauge(sd_b, "r3.t2.w0.gc_objects"), 40,
                 "the exited target's buffered samples at statsd B")
    R.check("statsd back: buffered samples of the exited pid %d delivered (gc_objects %d)" % (
        t2pid, got), got > 0)
    R.check("statsd back: r3 health gauges", grows(sd_b, "r3.heapwatch.samples_taken"))
    R.check("no bad lines reached statsd", sd_b.bad_lines() == 0 and sd_a.bad_lines() == 0)
    rc = d.stop()
    R.check("SIGTERM: exit 0", rc == 0, "rc %s" % rc)
    R.check("target left running (%s)" % t1.state(), t1.state() in "RS", t1.state())


def startup_unresolvable(sd_c):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        R.skip("start-up with a host that resolves later", "needs root and unshare(1)")
        return
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        R.skip("start-up with a host that resolves later",
               "unshare --mount: %s" % probe.stderr.decode().strip())
        return
    hosts = os.path.join(work, "hosts")
    nss = os.path.join(work, "nsswitch.conf")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n")
    with open(nss, "w") as f:
        f.write("hosts: files\n")     # the name's fate is the file's only
    t3 = later(Target(PY))
    t4 = later(Target(PY))
    conf = os.path.join(work, "start.yaml")
    write_config(conf, cfg_text(sd_c.port, [("t3", "pid: %d" % t3.pid), ("t4", "pid: %d" % t4.pid)],
                                   prefix="s1", host="statsd-later.heapwatch.test"))
    ns = ["unshare", "--mount", "--", "sh", "-c",
          'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/nsswitch.conf && shift 2 && exec "$@"',
          "sh", hosts, nss]
    d = later(Daemon(work, conf, argv_prefix=ns, name="start"))
    d.wait_ready()
    d.wait(lambda: "statsd unreachable" in d.notify.status(), 15, "STATUS statsd unreachable")
    R.ok("host unresolvable at start: READY=1, STATUS=%s" % d.notify.status())
    d.wait_log("statsd-later.heapwatch.test")
    d.wait(lambda: buffered(d) >= 6, 15, "samples buffered")
    t4pid = t4.pid
    t4.close()
    d.wait_log("pid %d is gone" % t4pid)
    with open(hosts, "w") as f:      # in place: the bind mount sees it
        f.write("127.0.0.1 localhost\n127.0.0.1 statsd-later.heapwatch.test\n")
    got = d.wait(lambda: gauge(sd_c, "s1.t4.w0.pid") == t4pid and gauge(sd_c, "s1.t4.w0.gc_objects"), 60,
                 "samples of t4 (exited) once the name resolves")
    R.check("name resolves later: samples taken before arrive (pid %d, gc_objects %d)" % (t4pid, got),
            got > 0)
    R.check("and sampling goes on", grows(sd_c, "s1.heapwatch.samples_taken"))
    rc = d.stop()
    R.check("SIGTERM: exit 0", rc == 0, "rc %s" % rc)


def check_config_warns(_):
    conf = os.path.join(work, "cc.yaml")
    write_config(conf, cfg_text(8125, [], host="statsd.heapwatch.invalid"))
    p = subprocess.run([HEAPWATCH, "check-config", conf], capture_output=True, text=True)
    want = "%s:5:9: key 'statsd.host'" % conf
    R.check("check-config: unresolvable host is a warning, exit 0 (%s)" % p.stderr.strip(),
            p.returncode == 0 and want in p.stderr and "resolve" in p.stderr and
            len(p.stderr.strip().splitlines()) == 1, "rc %d: %s" % (p.returncode, p.stderr))
    write_config(conf, cfg_text(8125, [], host="statsd.heapwatch.invalid").replace("8125", "0"))
    p = subprocess.run([HEAPWATCH, "check-config", conf], capture_output=True, text=True)
    R.check("check-config: a real error still exits 2", p.returncode == 2 and "statsd.port" in p.stderr,
            "rc %d: %s" % (p.returncode, p.stderr))
    write_config(conf, cfg_text(8125, [], host="127.0.0.1"))
    p = subprocess.run([HEAPWATCH, "check-config", conf], capture_output=True, text=True)
    R.check("check-config: an address is not looked up, no warning", p.returncode == 0 and not p.stderr,
            p.stderr)


try:
    if shutil.which("node") is None:
        R.skip("daemon reload", "node not installed")
        R.exit()
    # one statsd for the scenarios that need one from the start (node is
    # slow to start on a busy machine); prefixes keep them apart
    os.makedirs(os.path.join(work, "a"))
    sd = Statsd(os.path.join(work, "a"))
    for name, fn in (("reload", reload_scenarios), ("start-up", startup_unresolvable),
                     ("check-config", check_config_warns)):
        try:
            fn(sd)
        except Exception as ex:
            R.bad(name, "%s: %s" % (type(ex).__name__, ex))
            for c in closers:
                if isinstance(c, Daemon):
                    print("---- %s (rc %s) log tail:\n%s" % (c.logpath, c.p.poll(), c.text()[-3000:]))
        finally:
            for c in reversed(closers):
                try:
                    c.close()
                except Exception:
                    pass
            del closers[:]
    sd.close()
finally:
    shutil.rmtree(work, ignore_errors=True)
R.exit()
