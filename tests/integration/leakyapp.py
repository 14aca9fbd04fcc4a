# leakyapp.py - a WSGI app that leaks on request, for heapwatch's daemon
# tests under a real gunicorn.  /leak?n=N appends N LeakyThing objects to
# a module-level list; /info returns this worker's pid and leak count.
import json
import os

LEAKS = []


class LeakyThing(object):
    def __init__(self, i):
        self.i = i
        self.payload = [i]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/leak":
        qs = environ.get("QUERY_STRING", "")
        n = int(qs.split("=", 1)[1]) if qs.startswith("n=") else 100
        LEAKS.extend(LeakyThing(i) for i in range(n))
    body = json.dumps({"pid": os.getpid(), "leaks": len(LEAKS)}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
