# pythons.py - the CPython builds on this machine that tests run against.
import glob
import os
import subprocess

PYENV = os.path.expanduser("~/.pyenv/versions")
WANT_PYENV = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]


def _exe(d):
    for name in sorted(glob.glob(os.path.join(d, "bin", "python[23].*")), key=len):
        if os.access(name, os.X_OK) and not name.endswith("-config"):
            return name
    return None


def builds():
    """[(label, executable)] for every build found; and the skipped list."""
    found, skipped = [], []
    for minor in WANT_PYENV:
        dirs = sorted(glob.glob(os.path.join(PYENV, minor + ".*")))
        exe = _exe(dirs[-1]) if dirs else None
        if exe:
            found.append(("pyenv-" + os.path.basename(dirs[-1]), exe))
        else:
            skipped.append("pyenv " + minor + " (not installed)")
    for label, exe in (("debian-3.11", "/usr/bin/python3.11"),
                       ("debian-3.11d", "/usr/bin/python3.11d")):
        if os.access(exe, os.X_OK):
            found.append((label, exe))
        else:
            skipped.append(label + " (" + exe + " missing)")
    return found, skipped


def version_of(exe):
    out = subprocess.check_output([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    return tuple(int(x) for x in out.decode().split("."))
