# vforkhold.py - a real CPython target one of whose threads sits in a
# vfork(2) wait (state D, deaf to PTRACE_INTERRUPT) until the test lets the
# vfork child exit: a thread a census cannot stop.  Used by
# test_freeze_budget.py (the CLI) and test_daemon_detach.py (the daemon).
import os
import subprocess

HOLD_C = r"""
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* vfork; the child says so on fd and exits once release_fd is readable.
 * The calling thread waits in vfork meanwhile (state D). */
int hold_vfork(int fd, int release_fd)
{
	char c = 'v';
	pid_t p = vfork();

	if (p == 0) {
		if (write(fd, &c, 1) != 1 || read(release_fd, &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	if (p < 0)
		return -1;
	while (waitpid(p, NULL, 0) < 0)
		;
	return 0;
}
"""

# argv: the helper library, the release fd, how many objects to keep
TARGET = r"""
import ctypes, os, sys, threading, time
lib = ctypes.CDLL(sys.argv[1])
keep = [[i] for i in range(int(sys.argv[3]))]
r, w = os.pipe()
t = threading.Thread(target=lambda: lib.hold_vfork(w, int(sys.argv[2])), daemon=True)
t.start()
os.read(r, 1)          # the vfork child runs: the thread is in its vfork wait
sys.stdout.write("ready\n")
sys.stdout.flush()
while True:
    time.sleep(3600)
"""


def build(workdir, cc):
    """Compile the helper and write the target script: (lib, script)."""
    src, lib = os.path.join(workdir, "hold.c"), os.path.join(workdir, "hold.so")
    with open(src, "w") as f:
        f.write(HOLD_C)
    subprocess.check_call([cc, "-shared", "-fPIC", "-O1", "-o", lib, src])
    script = os.path.join(workdir, "target.py")
    with open(script, "w") as f:
        f.write(TARGET)
    return lib, script


def start(exe, lib, script, objects):
    """Start the target: (Popen, release fd, its first line).  Writing a
    byte to the release fd ends the vfork; the caller closes it."""
    rel_r, rel_w = os.pipe()
    p = subprocess.Popen([exe, script, lib, str(rel_r), str(objects)], stdout=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, pass_fds=(rel_r,))
    os.close(rel_r)
    return p, rel_w, p.stdout.readline().decode()


def task_states(pid):
    """{tid: state letter} of every thread of pid."""
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                out[int(t)] = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            pass
    return out


def traced(pid):
    """Whether any thread of pid has a tracer."""
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                if "TracerPid:\t0" not in f.read():
                    return True
        except OSError:
            pass
    return False
