# churn_target.py - targets for heapwatch's race tests (Python 3).
#   big N         N GC objects, then idle
#   threads       a thread that starts and joins threads forever
#   delcollect    a collection that pauses 1.5 s inside __del__, repeatedly
#   gcpause F     once F.start exists, one collection that says "in-del"
#                 from inside a __del__ and stays there until F.release
#                 exists
import gc
import os
import sys
import threading
import time

mode = sys.argv[1]
keep = []
if mode == "big":
    keep = [[i] for i in range(int(sys.argv[2]))]
elif mode == "threads":
    def churn():
        while True:
            ts = [threading.Thread(target=lambda: None) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
    threading.Thread(target=churn, daemon=True).start()
elif mode == "delcollect":
    class Slow(object):
        def __del__(self):
            time.sleep(1.5)

    def loop():
        while True:
            a = Slow()
            a.self = a
            del a
            gc.collect()
    threading.Thread(target=loop, daemon=True).start()
elif mode == "gcpause":
    class Held(object):
        def __del__(self):
            sys.stdout.write("in-del\n")
            sys.stdout.flush()
            while not os.path.exists(sys.argv[2] + ".release"):
                time.sleep(0.001)

    def hold():
        while not os.path.exists(sys.argv[2] + ".start"):
            time.sleep(0.001)
        a = Held()
        a.self = a
        del a
        gc.collect()
elif mode == "forker":
    def forks():
        while True:
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
    threading.Thread(target=forks, daemon=True).start()
elif mode == "execer":
    keep = [[i] for i in range(200000)]

    def later():
        time.sleep(float(sys.argv[2]))
        os.execv("/bin/sleep", ["sleep", "30"])
sys.stdout.write("ready %d\n" % os.getpid())
sys.stdout.flush()
# Only now: an exec before "ready" was written would leave the test
# reading the pipe until sleep exits, then censusing a zombie.
if mode == "execer":
    threading.Thread(target=later, daemon=True).start()
if mode == "gcpause":
    threading.Thread(target=hold, daemon=True).start()
while True:
    time.sleep(3600)
