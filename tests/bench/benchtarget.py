# benchtarget.py - a bench target process on the one-letter protocol of
# bench_target.py and bench_refs_target.py: "ready PID OBJECTS", then a
# line per command; "q" ends it.
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


class Target(object):
    def __init__(self, exe, script, args):
        self.p = subprocess.Popen([exe, os.path.join(HERE, script)] + list(args),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().split()
        self.pid, self.objects = int(line[1]), int(line[2])

    def cmd(self, c):
        self.p.stdin.write(c)
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        try:
            self.p.stdin.write("q")
            self.p.stdin.flush()
            self.p.wait(10)
        except Exception:  # noqa: BLE001 - gone already, or a broken pipe
            self.p.kill()
            self.p.wait()
