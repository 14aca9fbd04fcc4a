# test_units.py - one grammar for durations and sizes (units.h): what the
# command line accepts the configuration file accepts, and what one refuses
# the other refuses with the same reason.  Before, `--snapshot-limit 1G`
# worked and `snapshot_limit: 1G` was refused, and `--snapshot-limit 10MB`
# meant 10^7 bytes where the file refused MB.
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Results, heapwatch  # noqa: E402

R = Results()
work = tempfile.mkdtemp(prefix="hw-units-")
# a pid with no process: dump then fails at run time (exit 1), after its
# options were read (a bad option is exit 2)
GONE = 4194303
while os.path.exists("/proc/%d" % GONE):
    GONE -= 1

CASES = [
    # (option, key, value, accepted)
    ("--snapshot-limit", "snapshot_limit", "1G", True),
    ("--snapshot-limit", "snapshot_limit", "1.5GiB", True),
    ("--snapshot-limit", "snapshot_limit", "268435456", True),
    ("--snapshot-limit", "snapshot_limit", "10MB", False),
    ("--snapshot-limit", "snapshot_limit", "1 GiB", False),
    ("--max-pause", "max_pause", "250ms", True),
    ("--max-pause", "max_pause", "1.5s", True),
    ("--max-pause", "max_pause", "2000us", True),
    ("--max-pause", "max_pause", "500", False),
    ("--max-pause", "max_pause", "10sec", False),
    ("--max-pause", "max_pause", "1.5ns", False),
]

try:
    for opt, key, value, ok in CASES:
        rc, _, err = heapwatch("dump", opt, value, GONE)
        cli_reason = err.strip().split("\n")[0].split("%s: " % opt, 1)[-1]
        conf = os.path.join(work, "u.yaml")
        with open(conf, "w") as f:
            f.write("%s: %s\n" % (key, value if " " not in value else '"%s"' % value))
        os.chmod(conf, 0o600)
        crc, _, cerr = heapwatch("check-config", conf)
        conf_reason = cerr.strip().split("key '%s': " % key, 1)[-1]
        if ok:
            R.check("%s %s and %s: %s both accepted (dump exit %d, check-config %d)" % (
                opt, value, key, value, rc, crc), rc == 1 and crc == 0, err + cerr)
        else:
            R.check("%s %s and %s: %s both refused, same reason (%s)" % (
                opt, value, key, value, cli_reason), rc == 2 and crc == 2 and cli_reason == conf_reason,
                "dump rc %d: %s / check-config rc %d: %s" % (rc, err.strip(), crc, cerr.strip()))
    rc, _, err = heapwatch("dump", "--growth", "90x", GONE)
    R.check("--growth takes a duration (%s)" % err.strip().split("\n")[0], rc == 2 and "unknown unit 'x'" in err, err)
    for g in ("10", "0.5", "2m"):
        rc, _, err = heapwatch("dump", "--growth", g, GONE)
        R.check("--growth %s accepted (a bare number is seconds)" % g, rc == 1, err)
finally:
    shutil.rmtree(work, ignore_errors=True)
R.exit()
