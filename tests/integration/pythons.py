# pythons.py - the CPython builds on this machine that tests run against.
#
# Two APIs:
#   builds()       [(label, executable)], skipped: the builds a test can run
#                  directly on the host (pyenv 2.7, 3.6-3.13; Debian's
#                  python3.11 and python3.11d).  Kept as it was for the
#                  tests written against it.
#   find_builds()  [Build], skipped: the same host builds and, when
#                  tests/sid-chroot.sh has built it (make check does),
#                  Debian sid's python3.13+ inside a chroot, with and
#                  without debug files, optionally also in a pid namespace
#                  of their own.  A Build knows how to launch a script so
#                  that the target sees it (argv prefix, script copied
#                  under the chroot), which pid the target has on the
#                  host, and whether debug files can be found for it.
#
# Typical use:
#     found, skipped = find_builds(pidns=True)
#     for b in found:
#         p = subprocess.Popen(b.argv(script, "--arg"), env=b.env(), ...)
#         pid = b.host_pid(p)         # what heapwatch is given
# harness.Target accepts a Build wherever it accepts an executable.
import atexit
import fcntl
import glob
import os
import shutil
import subprocess
import tempfile
import time

PYENV = os.path.expanduser("~/.pyenv/versions")
WANT_PYENV = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
CACHE = os.environ.get("HW_TEST_CACHE", "/var/cache/heapwatch-test")
SID = os.path.join(CACHE, "sid-current")
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _exe(d):
    for name in sorted(glob.glob(os.path.join(d, "bin", "python[23].*")), key=len):
        if os.access(name, os.X_OK) and not name.endswith("-config"):
            return name
    return None


def _host_builds():
    found, skipped = [], []
    for minor in WANT_PYENV:
        dirs = sorted(glob.glob(os.path.join(PYENV, minor + ".*")))
        exe = _exe(dirs[-1]) if dirs else None
        if exe:
            found.append(("pyenv-" + os.path.basename(dirs[-1]), exe, True))
        else:
            skipped.append("pyenv " + minor + " (not installed)")
    for label, exe in (("debian-3.11", "/usr/bin/python3.11"),
                       ("debian-3.11d", "/usr/bin/python3.11d")):
        if os.access(exe, os.X_OK):
            dbg = os.path.isdir("/usr/lib/debug/.build-id")
            found.append((label, exe, dbg))
        else:
            skipped.append(label + " (" + exe + " missing)")
    return found, skipped


def builds():
    """[(label, executable)] for every build found on the host; and the
    skipped list."""
    found, skipped = _host_builds()
    return [(label, exe) for label, exe, _ in found], skipped


def version_of(exe):
    """(major, minor) of a host executable, or of a Build."""
    if isinstance(exe, Build):
        return exe.version[:2]
    out = subprocess.check_output([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    return tuple(int(x) for x in out.decode().split("."))


class Build(object):
    """One way to run a CPython build.

    label        unique, e.g. "pyenv-3.11.7", "sid-3.14.10-nodbg-pidns"
    exe          the interpreter as the target sees it ("/usr/bin/python3.14")
    root         host path of the target's root ("/" on the host)
    prefix       argv before exe: [], ["chroot", root], or
                 ["unshare", "--pid", "--fork", "--kill-child", "chroot", root]
    version      (major, minor, micro) as the build reports it
    debug_files  whether DWARF can be found for it (in the binary, or a
                 debug file under root/usr/lib/debug)
    pidns        whether the target runs in a pid namespace of its own
    kind         "pyenv", "debian" or "sid"
    """

    def __init__(self, label, exe, root="/", prefix=(), version=None,
                 debug_files=True, pidns=False, kind="host"):
        self.label = label
        self.exe = exe
        self.root = root
        self.prefix = list(prefix)
        self.debug_files = debug_files
        self.pidns = pidns
        self.kind = kind
        self._stage = None
        if version is None:
            out = subprocess.check_output(self.prefix + [exe, "-c",
                                          "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                                          env=self.env())
            version = tuple(int(x) for x in out.decode().split("."))
        self.version = tuple(version)
        self.version_str = ".".join(str(x) for x in self.version)

    def __repr__(self):
        return "Build(%s)" % self.label

    @property
    def chrooted(self):
        return self.root != "/"

    def host_path(self, inside):
        """Host path of a path as the target sees it."""
        if not self.chrooted:
            return inside
        return os.path.join(self.root, inside.lstrip("/"))

    def stage(self, path):
        """Make a file or directory visible to the target; returns the path
        it has there.  Host builds see the host's files as they are;
        chroot builds get a copy under <root>/tmp/heapwatch-test-*/, removed
        when the test process exits."""
        if not self.chrooted:
            return os.path.abspath(path)
        dst = os.path.join(self.staging_dir(), os.path.basename(path.rstrip("/")))
        if os.path.isdir(path):
            if not os.path.exists(dst):
                shutil.copytree(path, dst)
        else:
            shutil.copy(path, dst)
        return "/" + os.path.relpath(dst, self.root)

    def staging_dir(self):
        """Host path of a private directory the target can see (under the
        chroot's /tmp; a temporary directory on the host), removed when
        the test process exits."""
        if self._stage is None:
            where = os.path.join(self.root, "tmp") if self.chrooted else None
            self._stage = tempfile.mkdtemp(prefix="heapwatch-test-", dir=where)
            os.chmod(self._stage, 0o755)
            atexit.register(shutil.rmtree, self._stage, True)
        return self._stage

    def argv(self, script, *args):
        """argv that runs script (a host path, staged if need be) with args."""
        return self.prefix + [self.exe, self.stage(script)] + [str(a) for a in args]

    def env(self, extra=None):
        """Environment for the target: the test's own on the host; a clean
        one inside a chroot (the host's PYTHON* variables would point at
        host paths)."""
        if not self.chrooted:
            e = dict(os.environ)
        else:
            e = {"PATH": CHROOT_PATH, "LANG": "C.UTF-8", "HOME": "/root"}
        e.update(extra or {})
        return e

    def host_pid(self, popen, timeout=10):
        """The pid of the interpreter on the host: popen's own, or in a pid
        namespace the child unshare forked (its pid there is 1)."""
        if not self.pidns:
            return popen.pid
        end = time.time() + timeout
        path = "/proc/%d/task/%d/children" % (popen.pid, popen.pid)
        while time.time() < end:
            try:
                with open(path) as f:
                    kids = f.read().split()
            except IOError:
                kids = []
            for k in kids:
                try:
                    if os.path.basename(os.readlink("/proc/%s/exe" % k)).startswith("python"):
                        return int(k)
                except OSError:
                    pass
            if popen.poll() is not None:
                break
            time.sleep(0.01)
        raise RuntimeError("%s: no interpreter under unshare pid %d" % (self.label, popen.pid))


_held = []


def _hold(gen):
    """Hold the generation's shared lock for this process's lifetime, so
    sid-chroot.sh does not remove it under a running test."""
    try:
        f = open(os.path.join(gen, "lock"), "r")
        fcntl.flock(f, fcntl.LOCK_SH)
        _held.append(f)
    except (IOError, OSError):
        pass


def _info(gen):
    d = {}
    try:
        with open(os.path.join(gen, "info")) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    d[k] = v
    except IOError:
        pass
    return d


def sid_status():
    """The chroot's state line ("ok ..." or "unavailable: why")."""
    try:
        with open(os.path.join(CACHE, "sid-status")) as f:
            return f.read().strip()
    except IOError:
        return "unavailable: never built (run make check or make sid-chroot)"


def sid_builds(pidns=False):
    """Debian sid's python3.13+ in the chroot: ([Build], skipped).  For
    each interpreter: -dbg (debug files), -nodbg (none) and, with pidns,
    -nodbg-pidns (nodbg in a pid namespace of its own)."""
    found, skipped = [], []
    if os.environ.get("HW_SID") == "0":
        return [], ["sid chroot (HW_SID=0)"]
    if os.geteuid() != 0:
        return [], ["sid chroot (needs root)"]
    gen = os.path.realpath(SID)
    info = _info(gen)
    if not info.get("pythons"):
        return [], ["sid chroot (%s)" % sid_status()]
    _hold(gen)
    exes = info["pythons"].split()
    vers = info.get("versions", "").split()
    for i, exe in enumerate(exes):
        ver = tuple(int(x) for x in vers[i].split(".")) if i < len(vers) else None
        shapes = [("dbg", False), ("nodbg", False)] + ([("nodbg", True)] if pidns else [])
        for shape, ns in shapes:
            root = os.path.join(gen, shape)
            prefix = (["unshare", "--pid", "--fork", "--kill-child", "chroot", root] if ns
                      else ["chroot", root])
            v = ver or "?"
            label = "sid-%s-%s%s" % (".".join(map(str, v)) if ver else exe, shape,
                                     "-pidns" if ns else "")
            if not os.path.exists(os.path.join(root, exe.lstrip("/"))):
                skipped.append(label + " (missing in the chroot)")
                continue
            found.append(Build(label, exe, root=root, prefix=prefix, version=ver,
                               debug_files=(shape == "dbg"), pidns=ns, kind="sid"))
    return found, skipped


def find_builds(host=True, sid=True, pidns=False):
    """Every build: ([Build], skipped list of strings)."""
    found, skipped = [], []
    if host:
        hf, hs = _host_builds()
        for label, exe, dbg in hf:
            ver = None
            if label.startswith("pyenv-"):
                try:
                    ver = tuple(int(x) for x in label[6:].split("."))
                except ValueError:
                    ver = None
            found.append(Build(label, exe, version=ver, debug_files=dbg,
                               kind="pyenv" if label.startswith("pyenv") else "debian"))
        skipped += hs
    if sid:
        sf, ss = sid_builds(pidns=pidns)
        found += sf
        skipped += ss
    return found, skipped


# ---- patched copies of a build's interpreter (layouts tests) ----

def _elf_symbols(path, names):
    """File offsets of .dynsym symbols, from readelf (binutils)."""
    import re
    secs = {}
    out = subprocess.check_output(["readelf", "-SW", path]).decode()
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*(\d+)\]\s+\S+\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if m:
            secs[int(m.group(1))] = (int(m.group(2), 16), int(m.group(3), 16))
    offs = {}
    out = subprocess.check_output(["readelf", "-sW", "--dyn-syms", path]).decode()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[7] in names and f[6].isdigit() and int(f[6]) in secs:
            addr, off = secs[int(f[6])]
            offs[f[7]] = int(f[1], 16) - addr + off
    return offs


def patched_build(build, tag, version=None, debug_offsets=()):
    """A copy of build's interpreter, staged where its targets see it, with
    Py_Version and _Py_DebugOffsets.version set to version (a
    PY_VERSION_HEX), and (offset, value) pairs written as uint64_t into
    _Py_DebugOffsets (value may be a function of the old value).  The copy keeps its build-id, so a debug file still
    matches it.  For static interpreters (the executable defines
    _PyRuntime: Debian's); returns None when it does not."""
    import struct
    src = build.host_path(build.exe)
    dst = os.path.join(build.staging_dir(), "python-" + tag)
    shutil.copy(src, dst)
    offs = _elf_symbols(dst, ("Py_Version", "_PyRuntime"))
    if "_PyRuntime" not in offs or (version is not None and "Py_Version" not in offs):
        return None
    with open(dst, "r+b") as f:
        if version is not None:
            f.seek(offs["Py_Version"])
            f.write(struct.pack("<I", version))
            f.seek(offs["_PyRuntime"] + 8)
            f.write(struct.pack("<Q", version))
        for at, val in debug_offsets:
            f.seek(offs["_PyRuntime"] + at)
            if callable(val):
                val = val(struct.unpack("<Q", f.read(8))[0])
                f.seek(offs["_PyRuntime"] + at)
            f.write(struct.pack("<Q", val))
    os.chmod(dst, 0o755)
    inside = "/" + os.path.relpath(dst, build.root) if build.chrooted else dst
    return Build(build.label + "-" + tag, inside, root=build.root, prefix=build.prefix,
                 version=build.version, debug_files=build.debug_files, pidns=build.pidns,
                 kind=build.kind)
