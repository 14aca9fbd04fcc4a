# verdictapp.py - a WSGI app with one route per memory shape, for
# test_verdict.py under a real gunicorn.  VERDICTAPP_EARLY=1 makes each
# worker keep ~60 MiB and 50,000 objects in its first seconds (an early
# explosion).  Routes:
#   /         a small answer
#   /saw      builds and drops thousands of objects (a sawtooth)
#   /leak     keeps one 1 KiB Session per request (a low-volume leak)
#   /cache    fills a bounded functools.lru_cache, then reuses it
#   /surge    the first call keeps 100,000 Rows; later calls keep nothing
#   /native   allocates 64 KiB of C memory with ctypes, never freed, no
#             Python object kept
import ctypes
import functools
import json
import os
import threading
import time

LEAKS = []
KEPT = []
_calls = [0]
_libc = ctypes.CDLL(None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]


class Session(object):
    def __init__(self, n):
        self.n = n
        self.payload = b"s" * 1024


class Row(object):
    __slots__ = ("a", "b")

    def __init__(self, i):
        self.a = i
        self.b = "row %d" % i


@functools.lru_cache(maxsize=32)
def cached(k):
    return [(k, str(i)) for i in range(200)]


def _explode():
    time.sleep(0.5)
    for i in range(120):
        KEPT.append(b"e" * (512 * 1024))
        KEPT.append([{"i": j} for j in range(420)])
        time.sleep(0.02)


if os.environ.get("VERDICTAPP_EARLY") == "1":
    threading.Thread(target=_explode, daemon=True).start()


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    _calls[0] += 1
    if path == "/saw":
        junk = [{"i": i, "v": [i, str(i)]} for i in range(3000)]
        del junk
    elif path == "/leak":
        LEAKS.append(Session(_calls[0]))
    elif path == "/cache":
        cached(_calls[0] % 32)
    elif path == "/surge":
        if not KEPT:
            KEPT.append([Row(i) for i in range(100000)])
    elif path == "/native":
        p = _libc.malloc(65536)
        _libc.memset(p, 1, 65536)
    body = json.dumps({"pid": os.getpid(), "leaks": len(LEAKS)}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
