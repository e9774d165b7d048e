"""The load tests check themselves: test/selftest.js (the score arithmetic against the official
final's published result, the preview's and the final's inconsistency rules, the phase bins) runs
under the same k6 as tools/bench, and any wrong check fails it. No stack needed."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "lib"))
import deps  # noqa: E402

K6_VERSION = "1.1.0"


def k6_binary():
    return deps.ensure_k6(K6_VERSION, timeout=60)


def test_selftest_script_passes_every_check():
    out = subprocess.run([k6_binary(), "run", "--quiet", "--no-color", str(ROOT / "test" / "selftest.js")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "K6_NO_USAGE_REPORT": "true"})
    assert out.returncode == 0, f"k6 run test/selftest.js exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    assert "selftest: all checks passed" in out.stdout + out.stderr
