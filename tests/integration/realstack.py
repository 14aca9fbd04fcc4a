# realstack.py - real statsd (Etsy, npm) and gunicorn on loopback for the
# daemon tests.  Everything binds 127.0.0.1 on free ports and is stopped
# by close().
import json
import os
import signal
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
STATSD_JS = os.path.join(ROOT, "build", "statsd", "node_modules", "statsd", "stats.js")


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(cond, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise RuntimeError("timed out after %ss waiting for %s" % (timeout, what))


class Statsd(object):
    def __init__(self, workdir, port=None, mgmt=None):
        if not os.path.exists(STATSD_JS):
            raise RuntimeError("statsd not installed (%s)" % STATSD_JS)
        self.port = port or free_port(socket.SOCK_DGRAM)
        self.mgmt = mgmt or free_port()
        conf = os.path.join(workdir, "statsd.js")
        with open(conf, "w") as f:
            f.write("""{ servers: [ { server: "./servers/udp", address: "127.0.0.1", port: %d },
                        { server: "./servers/tcp", address: "127.0.0.1", port: %d } ],
  mgmt_address: "127.0.0.1", mgmt_port: %d, flushInterval: 1000,
  backends: [ "./backends/console" ], console: { prettyprint: false },
  deleteGauges: false, automaticConfigReload: false }""" % (self.port, self.port, self.mgmt))
        self.log = open(os.path.join(workdir, "statsd.log"), "w")
        self.p = subprocess.Popen(["node", STATSD_JS, conf], stdout=self.log, stderr=subprocess.STDOUT,
                                  cwd=os.path.dirname(STATSD_JS))
        wait_for(self._up, 20, "statsd")

    def _up(self):
        try:
            socket.create_connection(("127.0.0.1", self.mgmt), 0.5).close()
            return True
        except OSError:
            return False

    def command(self, cmd):
        s = socket.create_connection(("127.0.0.1", self.mgmt), 5)
        s.sendall(cmd.encode() + b"\n")
        data = b""
        end = time.time() + 5
        while not data.rstrip().endswith(b"END") and time.time() < end:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        return data.decode()

    def gauges(self):
        """The gauges statsd holds, parsed from node's util.inspect text."""
        text = self.command("gauges")
        body = text[text.index("{"):text.rindex("}") + 1] if "{" in text else "{}"
        out = {}
        for part in body.strip("{} \n").replace("\n", " ").split(","):
            if ":" not in part:
                continue
            k, v = part.rsplit(":", 1)
            k = k.strip().strip("'\"")
            try:
                out[k] = float(v.strip())
            except ValueError:
                pass
        return out

    def bad_lines(self):
        for line in self.command("stats").splitlines():
            if line.startswith("messages.bad_lines_seen"):
                return int(line.split(":")[1])
        return 0

    def close(self):
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait(10)
        self.log.close()


class Gunicorn(object):
    def __init__(self, workdir, workers=2, max_requests=0, python="/usr/bin/python3"):
        self.port = free_port()
        self.pidfile = os.path.join(workdir, "gunicorn.pid")
        args = [python, "-m", "gunicorn", "--bind", "127.0.0.1:%d" % self.port,
                "--workers", str(workers), "--worker-class", "sync", "--pid", self.pidfile,
                "--chdir", HERE, "--name", "leakyapp",
                "--error-logfile", os.path.join(workdir, "gunicorn.log")]
        if max_requests:
            args += ["--max-requests", str(max_requests)]
        self.p = subprocess.Popen(args + ["leakyapp:app"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        self.workers = workers
        wait_for(lambda: len(self.worker_pids()) == workers and os.path.exists(self.pidfile), 30,
                 "gunicorn workers")

    def worker_pids(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.p.pid, self.p.pid)) as f:
                return sorted(int(x) for x in f.read().split())
        except OSError:
            return []

    def get(self, path):
        s = socket.create_connection(("127.0.0.1", self.port), 10)
        s.sendall(("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % path).encode())
        data = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            data += c
        s.close()
        return json.loads(data.split(b"\r\n\r\n", 1)[1])

    def close(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
