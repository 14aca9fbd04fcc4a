# harness.py - start targets, run heapwatch, compare censuses.
import json
import os
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HEAPWATCH = os.environ.get("HEAPWATCH") or os.path.join(HERE, "..", "..", "build", "heapwatch")


class Target(object):
    """A target.py process; always killed by close().  exe is a host
    executable or a pythons.Build (a chroot, a pid namespace): then pid is
    the target's pid on the host, whatever it is inside."""

    def __init__(self, exe, args=(), env=None, script=None, timeout=60):
        script = script or os.path.join(HERE, "target.py")
        self.timeout = timeout
        if hasattr(exe, "argv"):
            self.p = subprocess.Popen(exe.argv(script, *args), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env=exe.env(env))
            self.pid = exe.host_pid(self.p)
        else:
            self.p = subprocess.Popen([exe, script] + list(args),
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      env=env)
            self.pid = self.p.pid
        self.exe = exe
        self.buf = b""
        self.wait_ready()

    def readline(self, timeout=None):
        # Our own line buffer over the raw fd: select() on a buffered
        # reader would miss lines already read into its buffer.
        timeout = timeout or self.timeout
        fd = self.p.stdout.fileno()
        end = time.time() + timeout
        while b"\n" not in self.buf:
            left = end - time.time()
            r, _, _ = select.select([fd], [], [], max(left, 0))
            if not r:
                raise RuntimeError("target %d: no answer in %ss" % (self.pid, timeout))
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise RuntimeError("target %d exited (rc %s)" % (self.pid, self.p.poll()))
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode().strip()

    def wait_ready(self):
        line = self.readline()
        if not line.startswith("ready"):
            raise RuntimeError("target %d: expected ready, got %r" % (self.pid, line))
        self.ready_line = line

    def count(self):
        self.p.stdin.write(b"c")
        self.p.stdin.flush()
        doc = json.loads(self.readline())
        self.wait_ready()
        return doc

    def grow(self):
        self.p.stdin.write(b"g")
        self.p.stdin.flush()
        self.wait_ready()

    def state(self):
        with open("/proc/%d/stat" % self.pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write(b"q")
                self.p.stdin.flush()
                self.p.wait(5)
            except Exception:
                pass
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def quit_target(p):
    """Ask a target on the "q" line protocol to exit; kill it if it will not."""
    try:
        p.stdin.write(b"q\n")
        p.stdin.flush()
        p.wait(5)
    except Exception:  # noqa: BLE001 - gone already, or a broken pipe
        pass
    if p.poll() is None:
        p.kill()
        p.wait()


def heapwatch(*args, **kw):
    """Run heapwatch; return (rc, stdout, stderr)."""
    p = subprocess.run([HEAPWATCH] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=kw.get("timeout", 300),
                       env=kw.get("env"))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def dump_json(pid, *extra, **kw):
    rc, out, err = heapwatch("dump", "--json", *(list(extra) + [pid]), **kw)
    if rc != 0:
        raise AssertionError("heapwatch dump %d failed (rc %d): %s" % (pid, rc, err.strip()))
    return json.loads(out)


def diff_counts(hw, py):
    """Differences between heapwatch's types and the target's own counts."""
    mine = dict((t["name"], t["count"]) for t in hw["types"])
    theirs = py["counts"]
    out = []
    for name in sorted(set(mine) | set(theirs)):
        if mine.get(name, 0) != theirs.get(name, 0):
            out.append("%s: heapwatch %d, gc.get_objects %d" % (name, mine.get(name, 0), theirs.get(name, 0)))
    return out


class Results(object):
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def ok(self, what):
        self.passed += 1
        print("ok   %s" % what)

    def bad(self, what, why):
        self.failed += 1
        print("FAIL %s: %s" % (what, why))

    def skip(self, what, why):
        self.skipped += 1
        print("SKIP %s: %s" % (what, why))

    def check(self, what, cond, why=""):
        (self.ok(what) if cond else self.bad(what, why))

    def exit(self):
        print("%d passed, %d failed, %d skipped" % (self.passed, self.failed, self.skipped))
        if self.failed:
            sys.exit(1)
        sys.exit(77 if self.passed == 0 else 0)
