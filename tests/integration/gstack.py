# gstack.py - a real Graphite stack on loopback for heapwatch's tests:
# Debian's carbon-cache writing whisper files, Etsy statsd (npm) with its
# graphite backend, graphite-web (Debian's Django app under gunicorn, with
# a few lines of WSGI serving /static/ as the front web server would), and
# headless Chromium driven through the DevTools protocol.  Every server
# binds 127.0.0.1 on a port chosen at run time and is stopped by close().
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import realstack
from realstack import STATSD_JS, free_port, wait_for

PY = "/usr/bin/python3"          # Debian's: has carbon, whisper, graphite-web
CARBON = "/usr/bin/carbon-cache"
GRAPHITE_WSGI = "/usr/lib/python3/dist-packages/graphite/wsgi.py"
GRAPHITE_STATIC = "/usr/share/graphite-web/static"
CHROMIUM = "/usr/bin/chromium"


def missing():
    """What of the stack is not installed, as a list of reasons."""
    out = []
    if not os.path.exists(CARBON):
        out.append("graphite-carbon not installed (%s)" % CARBON)
    if not os.path.exists(GRAPHITE_WSGI):
        out.append("graphite-web not installed (%s)" % GRAPHITE_WSGI)
    if not os.path.exists(STATSD_JS):
        out.append("statsd not installed (%s)" % STATSD_JS)
    if subprocess.run(["sh", "-c", "command -v node"], stdout=subprocess.DEVNULL).returncode:
        out.append("node not installed")
    return out


def _stop(p, timeout=15):
    if p is None or p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def _port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


class Carbon(object):
    """carbon-cache in the foreground with a private configuration."""

    def __init__(self, workdir, schemas, aggregation, max_creates=50, metric_interval=5):
        self.dir = os.path.join(workdir, "carbon")
        self.storage = os.path.join(self.dir, "storage")
        self.whisper = os.path.join(self.storage, "whisper")
        self.logdir = os.path.join(self.dir, "log")
        for d in ("conf", "run", "log", "storage/whisper", "storage/lists"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        self.line_port = free_port()
        self.pickle_port = free_port()
        self.query_port = free_port()
        self.conf = os.path.join(self.dir, "conf", "carbon.conf")
        with open(self.conf, "w") as f:
            f.write("""[cache]
STORAGE_DIR = {s}/
LOCAL_DATA_DIR = {w}/
WHITELISTS_DIR = {s}/lists/
CONF_DIR = {d}/conf/
LOG_DIR = {d}/log/
PID_DIR = {d}/run/
DATABASE = whisper
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 10000
MAX_CREATES_PER_MINUTE = {mc}
MIN_TIMESTAMP_RESOLUTION = 1
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {lp}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pp}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {qp}
USE_FLOW_CONTROL = True
LOG_UPDATES = False
LOG_CREATES = True
LOG_LISTENER_CONN_SUCCESS = False
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = True
WHISPER_FALLOCATE_CREATE = False
ENABLE_TAGS = False
CARBON_METRIC_PREFIX = carbon
CARBON_METRIC_INTERVAL = {mi}
""".format(s=self.storage, w=self.whisper, d=self.dir, mc=max_creates, lp=self.line_port,
                pp=self.pickle_port, qp=self.query_port, mi=metric_interval))
        with open(os.path.join(self.dir, "conf", "storage-schemas.conf"), "w") as f:
            f.write(schemas)
        with open(os.path.join(self.dir, "conf", "storage-aggregation.conf"), "w") as f:
            f.write(aggregation)
        self.p = None
        self.starts = 0
        self.start()

    def start(self):
        try:
            os.unlink(os.path.join(self.dir, "run", "carbon-cache-a.pid"))
        except OSError:
            pass
        self.out = open(os.path.join(self.logdir, "stdout.%d" % self.starts), "w")
        self.starts += 1
        self.p = subprocess.Popen([PY, CARBON, "--config=" + self.conf, "--nodaemon", "start"],
                                  stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: self.p.poll() is not None or _port_open(self.line_port), 30, "carbon-cache")
        if self.p.poll() is not None:
            raise RuntimeError("carbon-cache exited: %s" % open(self.out.name).read()[-2000:])

    def stop(self):
        _stop(self.p, 30)
        self.out.close()

    def close(self):
        self.stop()

    def files(self, under=""):
        """Whisper files (metric names) under a dotted prefix."""
        root = os.path.join(self.whisper, *under.split(".")) if under else self.whisper
        out = []
        for d, _, fs in os.walk(root):
            for f in fs:
                if f.endswith(".wsp"):
                    rel = os.path.relpath(os.path.join(d, f[:-4]), self.whisper)
                    out.append(rel.replace(os.sep, "."))
        return sorted(out)

    def creates(self):
        """(unix time, metric) of every file carbon created, from its log
        (in the foreground, carbon logs to stdout)."""
        out = []
        for i in range(self.starts):
            with open(os.path.join(self.logdir, "stdout.%d" % i)) as f:
                for line in f:
                    if "[creates] creating database metric " in line:
                        ts = time.mktime(time.strptime(line.split(" :: ")[0], "%d/%m/%Y %H:%M:%S"))
                        name = line.split("creating database metric ")[1].split(" ")[0]
                        out.append((ts, name))
        return out


class Statsd(realstack.Statsd):
    """Etsy statsd with its graphite backend (and a repeater, so a test can
    see every line that reached it)."""

    def __init__(self, workdir, carbon_port, flush_ms=1000, delete_gauges=True, gauges_ttl=5,
                 repeater_port=None):
        self.dir = os.path.join(workdir, "statsd")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port(socket.SOCK_DGRAM)
        self.mgmt = free_port()
        backends = ['"./backends/graphite"']
        rep = ""
        if repeater_port:
            backends.append('"./backends/repeater"')
            rep = 'repeater: [ { host: "127.0.0.1", port: %d } ], repeaterProtocol: "udp4",' % repeater_port
        self.conf = os.path.join(self.dir, "config.js")
        with open(self.conf, "w") as f:
            f.write("""{ servers: [ { server: "./servers/udp", address: "127.0.0.1", port: %d } ],
  mgmt_address: "127.0.0.1", mgmt_port: %d,
  graphiteHost: "127.0.0.1", graphitePort: %d, graphiteProtocol: "text",
  flushInterval: %d, backends: [ %s ], %s
  deleteGauges: %s, gaugesMaxTTL: %d, automaticConfigReload: false }
""" % (self.port, self.mgmt, carbon_port, flush_ms, ", ".join(backends), rep,
                "true" if delete_gauges else "false", gauges_ttl))
        self.p = None
        self.starts = 0
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "statsd.%d.log" % self.starts), "w")
        self.starts += 1
        self.p = subprocess.Popen(["node", STATSD_JS, self.conf], stdout=self.log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  cwd=os.path.dirname(STATSD_JS))
        wait_for(lambda: self.p.poll() is not None or _port_open(self.mgmt), 20, "statsd")
        if self.p.poll() is not None:
            raise RuntimeError("statsd exited")

    def stop(self):
        _stop(self.p)
        self.log.close()

    def close(self):
        self.stop()



class LineCapture(object):
    """A UDP listener, in a thread, that keeps every statsd line it
    receives (the repeater's copy): when each name was first seen and its
    last value."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.names = {}            # name -> (first seen, last value)
        self.lock = threading.Lock()
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop:
            try:
                data = self.s.recv(65536)
            except (socket.timeout, InterruptedError):
                continue
            except OSError:
                return
            now = time.time()
            with self.lock:
                for line in data.decode("utf-8", "replace").split("\n"):
                    if ":" not in line:
                        continue
                    name, rest = line.rsplit(":", 1)
                    first = self.names.get(name, (now, None))[0]
                    self.names[name] = (first, rest.split("|")[0])

    def poll(self):
        """A copy of {name: (first seen, last value)}."""
        with self.lock:
            return dict(self.names)

    def close(self):
        self.stop = True
        self.t.join(5)
        self.s.close()


GRAPHITE_SETTINGS = """
SECRET_KEY = 'heapwatch-test-only'
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
TIME_ZONE = 'UTC'
LOG_ROTATION = False
DEFAULT_XFILES_FACTOR = 0
GRAPHITE_ROOT = '/usr/share/graphite-web'
STATIC_ROOT = '{static}'
CONF_DIR = '{d}/conf'
STORAGE_DIR = '{d}/storage'
LOG_DIR = '{d}/log'
INDEX_FILE = '{d}/storage/index'
WHISPER_DIR = '{whisper}'
STANDARD_DIRS = [WHISPER_DIR]
CARBONLINK_HOSTS = ['127.0.0.1:{query}:a']
CARBONLINK_TIMEOUT = 1.0
DATABASES = {{'default': {{'NAME': '{d}/storage/graphite.db',
                          'ENGINE': 'django.db.backends.sqlite3'}}}}
FUNCTION_PLUGINS = []
"""

# What Apache's "Alias /static/ /usr/share/graphite-web/static/" does in
# Debian's apache2-graphite.conf, for gunicorn.
STATIC_WSGI = """
import mimetypes, os
from graphite.wsgi import application as graphite_app
from django.conf import settings
ROOT = os.path.realpath(%r)
# graphite/settings.py sets STATICFILES_DIRS after reading local settings,
# to a directory Debian does not ship: the dashboard's theme check then
# fails ("Invalid theme 'default'").  Where the files really are:
settings.STATICFILES_DIRS = [ROOT]

def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path.startswith('/static/'):
        full = os.path.realpath(os.path.join(ROOT, path[len('/static/'):]))
        if full.startswith(ROOT + os.sep) and os.path.isfile(full):
            with open(full, 'rb') as f:
                body = f.read()
            ctype = mimetypes.guess_type(full)[0] or 'application/octet-stream'
            start_response('200 OK', [('Content-Type', ctype), ('Content-Length', str(len(body)))])
            return [body]
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'not found']
    return graphite_app(environ, start_response)
"""


class GraphiteWeb(object):
    """graphite-web 1.1 (Debian) under gunicorn, reading carbon's whisper
    files and its cache."""

    def __init__(self, workdir, carbon):
        self.dir = os.path.join(workdir, "graphite-web")
        for d in ("conf", "storage", "log"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        conf = os.path.join(self.dir, "conf")
        with open(os.path.join(conf, "hw_graphite_settings.py"), "w") as f:
            f.write(GRAPHITE_SETTINGS.format(static=GRAPHITE_STATIC, d=self.dir,
                                             whisper=carbon.whisper, query=carbon.query_port))
        with open(os.path.join(conf, "hw_graphite_wsgi.py"), "w") as f:
            f.write(STATIC_WSGI % GRAPHITE_STATIC)
        with open(os.path.join(conf, "dashboard.conf"), "w") as f:
            f.write("[ui]\ndefault_graph_width = 500\ndefault_graph_height = 280\n"
                    "automatic_variants = false\nrefresh_interval = 60\n"
                    "autocomplete_delay = 375\nmerge_hover_delay = 750\ntheme = default\n"
                    "[keyboard-shortcuts]\ntoggle_toolbar = ctrl-z\ntoggle_metrics_panel = ctrl-space\n"
                    "erase_all_graphs = alt-x\nsave_dashboard = alt-s\ncompletion_trigger = ctrl-space\n"
                    "delete_graph = alt-d\nselect_graph = alt-a\n")
        self.env = dict(os.environ, PYTHONPATH=conf, GRAPHITE_SETTINGS_MODULE="hw_graphite_settings",
                        DJANGO_SETTINGS_MODULE="graphite.settings")
        log = open(os.path.join(self.dir, "log", "migrate.log"), "w")
        rc = subprocess.call([PY, "/usr/bin/graphite-manage", "migrate", "--run-syncdb"], env=self.env,
                             stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if rc != 0:
            raise RuntimeError("graphite-manage migrate failed: %s" %
                               open(os.path.join(self.dir, "log", "migrate.log")).read()[-2000:])
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(self.dir, "log", "gunicorn.log"), "w")
        self.p = subprocess.Popen([PY, "-m", "gunicorn", "--bind", "127.0.0.1:%d" % self.port,
                                   "--workers", "2", "--timeout", "60", "hw_graphite_wsgi:application"],
                                  env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, cwd=conf)
        wait_for(lambda: self.p.poll() is not None or self._up(), 60, "graphite-web")
        if self.p.poll() is not None:
            raise RuntimeError("graphite-web exited: %s" %
                               open(os.path.join(self.dir, "log", "gunicorn.log")).read()[-2000:])

    def _up(self):
        try:
            self.get("/version")
            return True
        except OSError:
            return False

    def get(self, path, timeout=60):
        with urllib.request.urlopen(self.base + path, timeout=timeout) as r:
            return r.read()

    def post(self, path, form, timeout=60):
        data = urllib.parse.urlencode(form).encode()
        with urllib.request.urlopen(self.base + path, data=data, timeout=timeout) as r:
            return r.read()

    def render(self, target, frm="-10min", until="now"):
        """[(name, [(value, ts), ...])] from /render?format=json."""
        q = urllib.parse.urlencode([("target", target), ("from", frm), ("until", until),
                                    ("format", "json")])
        doc = json.loads(self.get("/render?" + q))
        return [(s["target"], [(p[0], p[1]) for p in s["datapoints"]]) for s in doc]

    def close(self):
        _stop(self.p)
        self.log.close()


# ---------------------------------------------------------------------------
# headless Chromium over the DevTools protocol (a minimal websocket client:
# the standard library has none, and Debian's python3-websocket is one more
# package for 60 lines)

class _WebSocket(object):
    def __init__(self, url, timeout=60):
        u = urllib.parse.urlparse(url)
        self.s = socket.create_connection((u.hostname, u.port), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n" % (u.path, u.hostname, u.port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            c = self.s.recv(1)
            if not c:
                raise OSError("websocket handshake: connection closed")
            head += c
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise OSError("websocket handshake refused: %r" % head[:200])

    def _exact(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise OSError("websocket closed")
            b += c
        return b

    def send(self, text):
        payload = text.encode()
        n = len(payload)
        head = bytes([0x81])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            data = self._exact(n)
            op = b0 & 0x0f
            if op == 8:
                raise OSError("websocket closed by peer")
            if op in (9, 10):
                continue
            msg += data
            if b0 & 0x80:
                return msg.decode()

    def close(self):
        self.s.close()


class Chromium(object):
    """Debian's chromium, headless, one page, driven by DevTools."""

    FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--mute-audio"]

    def __init__(self, workdir, width=1400, height=1800):
        self.profile = os.path.join(workdir, "chromium-profile")
        os.makedirs(self.profile, exist_ok=True)
        self.log = open(os.path.join(workdir, "chromium.log"), "w")
        self.p = subprocess.Popen([CHROMIUM] + self.FLAGS + [
            "--user-data-dir=" + self.profile, "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0", "--window-size=%d,%d" % (width, height), "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(os.environ, TZ="UTC"))   # graphite-web's TIME_ZONE too
        portfile = os.path.join(self.profile, "DevToolsActivePort")
        wait_for(lambda: self.p.poll() is not None or os.path.exists(portfile) and
                 open(portfile).read().count("\n") >= 1, 60, "chromium DevTools")
        if self.p.poll() is not None:
            raise RuntimeError("chromium exited: %s" % open(self.log.name).read()[-2000:])
        port = int(open(portfile).read().split("\n")[0])
        pages = wait_for(lambda: [t for t in json.loads(urllib.request.urlopen(
            "http://127.0.0.1:%d/json/list" % port, timeout=10).read()) if t["type"] == "page"],
            30, "a chromium page")
        self.ws = _WebSocket(pages[0]["webSocketDebuggerUrl"])
        self.next_id = 0
        self.events = []       # what the page said (exceptions, console)
        self.size = (width, height)
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def call(self, method, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if "method" in msg and len(self.events) < 1000:
                self.events.append(msg)
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def navigate(self, url):
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Log.enable")
        self.call("Page.navigate", url=url)

    def errors(self):
        """Exceptions the page threw and errors it logged, as text."""
        out = []
        for m in self.events:
            p = m.get("params", {})
            if m["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: %s %s" % (d.get("text", ""), d.get("exception", {}).get(
                    "description", "")[:300]))
            elif m["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: %s %s" % (p["entry"].get("text", ""), p["entry"].get("url", "")))
        return out

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("javascript: %s" % json.dumps(r["exceptionDetails"])[:500])
        return r["result"].get("value")

    def screenshot(self, path):
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        _stop(self.p)
        self.log.close()
