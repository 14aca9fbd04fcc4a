# hwdaemon.py - run `heapwatch daemon` for a test: its config written by
# the test, its log in a file, a stand-in systemd notify socket that keeps
# every READY=/STATUS= message, helpers to wait on them.  Always stopped
# by close().
import os
import signal
import socket
import subprocess
import threading

from harness import HEAPWATCH
from realstack import wait_for


def config_text(statsd_port, targets, prefix="hwtest", host="127.0.0.1", protocol="udp",
                interval="200ms", flush="200ms", status_file=None, extra=""):
    """A daemon config; targets is [(name, selector-line)], e.g.
    [("t1", "pid: 4242")].  Lines 5 and 6 are statsd.host and .port.
    Every gauge goes out at once (no budget of new names); the status file
    is status_file (the default, /run/heapwatch, may not exist)."""
    lines = ["interval: %s" % interval, "flush_interval: %s" % flush, "log_level: debug",
             "statsd:", "  host: %s" % host, "  port: %d" % statsd_port,
             "  protocol: %s" % protocol, "  prefix: %s" % prefix]
    lines.append("targets:" if targets else "targets: []")
    for name, sel in targets:
        lines.append("  - name: %s" % name)
        lines.append("    %s" % sel)
    lines.append("max_new_series_per_minute: 100000")
    if status_file:
        lines.append("status_file: %s" % status_file)
    return "\n".join(lines) + "\n" + extra


def write_config(path, text, mode=0o600):
    # In place (same inode) is not needed here; a fresh file each time.
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class Notify(object):
    """An AF_UNIX datagram socket standing in for systemd's."""

    def __init__(self, path):
        self.path = path
        self.msgs = []
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.settimeout(0.2)
        self.stop = False
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.stop:
            try:
                self.msgs.append(self.s.recv(8192).decode("utf-8", "replace"))
            except socket.timeout:
                pass
            except OSError:
                break

    def status(self):
        """The newest STATUS= text, or ''."""
        for m in reversed(self.msgs):
            for line in m.splitlines():
                if line.startswith("STATUS="):
                    return line[7:]
        return ""

    def saw(self, text):
        return any(text in m for m in self.msgs)

    def close(self):
        self.stop = True
        self.t.join(2)
        self.s.close()


class Daemon(object):
    """heapwatch daemon --config conf; argv_prefix runs it under another
    command (unshare ...), which must exec it (same pid)."""

    def __init__(self, workdir, conf, argv_prefix=(), name="daemon"):
        self.logpath = os.path.join(workdir, name + ".log")
        self.log = open(self.logpath, "w")
        self.notify = Notify(os.path.join(workdir, name + ".notify"))
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.path)
        self.p = subprocess.Popen(list(argv_prefix) + [HEAPWATCH, "daemon", "--config", conf],
                                  stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.p.pid
        self.mark = 0

    def text(self):
        self.log.flush()
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def since_mark(self):
        return self.text()[self.mark:]

    def set_mark(self):
        """Later waits look only at what is logged from now on."""
        self.mark = len(self.text())

    def _live(self, cond):
        def f():
            if self.p.poll() is not None:
                raise AssertionError("daemon exited (rc %s); log tail:\n%s" % (
                    self.p.returncode, self.text()[-2000:]))
            return cond()
        return f

    def wait(self, cond, timeout, what):
        """wait_for(cond), failing at once if the daemon exits."""
        return wait_for(self._live(cond), timeout, what)

    def wait_log(self, what, timeout=15):
        """Wait for a log line containing what, logged after the mark."""
        return self.wait(lambda: what in self.since_mark(), timeout, "daemon log %r" % what)

    def alive(self):
        return self.p.poll() is None

    def hup(self):
        self.set_mark()
        self.p.send_signal(signal.SIGHUP)

    def wait_ready(self, timeout=30):
        self.wait(lambda: self.notify.saw("READY=1"), timeout, "READY=1")

    def stop(self, timeout=30):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                return self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                return "killed after SIGTERM timeout"
        return self.p.returncode

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.notify.close()
        self.log.close()


def status_samples(status):
    """The sample count at the start of a STATUS= text, or -1."""
    try:
        return int(status.split(" ", 1)[0])
    except ValueError:
        return -1

