"""The official checker's view during an end-to-end test: the backend's summary of a sliding
window compared with the processors', over and over, while payments are sent and faults strike.
The comparison is the drills' (tools/lib/drill.py): counts and exact cents per processor."""

import json
import threading
import time
from decimal import Decimal

from drill import CONSISTENT_WITHIN_S, PROCESSORS, iso_ms, side_totals, to_cents


class WindowWatch:
    """The official checker's view while a test runs: every `interval` s, the summary of the window
    [now - 15 s, now - 2 s] from the backend (the tests pass the gateway), compared with both processors' for the same window
    (counts and exact amounts). A check the backend cannot answer (Valkey restarting) is recorded
    as unanswered, not as a match. Use as a context manager around the burst and the settling."""

    def __init__(self, backend, processors, admin_headers, interval=0.25, window_from_s=15.0, window_to_s=2.0):
        self.backend = backend
        self.processors = processors
        self.admin_headers = admin_headers
        self.interval = interval
        self.window = (window_from_s, window_to_s)
        self.checks = []  # (seconds since start, "match" | "mismatch" | "unanswered", detail)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = None

    def __enter__(self):
        self.started = time.time()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)
        return False

    def now(self):
        return time.time() - self.started

    def _run(self):
        while not self._stop.is_set():
            t = self.now()
            now_ms = int(time.time() * 1000)
            query = (f"from={iso_ms(now_ms - int(self.window[0] * 1000))}"
                     f"&to={iso_ms(now_ms - int(self.window[1] * 1000))}")
            status, text = self.backend.request("GET", "/payments-summary?" + query)
            theirs = {}
            for p in PROCESSORS:
                code, body = self.processors[p].request("GET", "/admin/payments-summary?" + query,
                                                        headers=self.admin_headers)
                if code == 200:
                    answer = json.loads(body, parse_float=Decimal)
                    theirs[p] = (int(answer["totalRequests"]), to_cents(answer["totalAmount"]))
            if status != 200 or len(theirs) < len(PROCESSORS):
                self.checks.append((t, "unanswered", status))
            else:
                ours = side_totals(json.loads(text, parse_float=Decimal))
                pairs = {p: (ours[p], theirs[p]) for p in PROCESSORS}  # (count, cents) each side
                same = all(a == b for a, b in pairs.values())
                self.checks.append((t, "match" if same else "mismatch", pairs))
            self._stop.wait(max(0.0, self.interval - (self.now() - t)))

    def longest_mismatch(self):
        """-> (seconds, first check of that run): the longest stretch of consecutive mismatched
        checks, from the first mismatch to the next check that matched (or the last check)."""
        longest, first, start = 0.0, None, None
        for t, verdict, detail in self.checks:
            if verdict == "mismatch":
                if start is None:
                    start = (t, detail)
            elif verdict == "match" and start is not None:
                if t - start[0] > longest:
                    longest, first = t - start[0], start
                start = None
        if start is not None and self.checks[-1][0] - start[0] >= longest:
            longest, first = self.checks[-1][0] - start[0] + self.interval, start
        return longest, first

    def assert_consistent(self, within_s=CONSISTENT_WITHIN_S, min_matches=4):
        """Every mismatch of the windows is gone within `within_s` (the drills' target), the last
        checks agree, and enough checks were answered to mean something."""
        matches = [c for c in self.checks if c[1] == "match"]
        assert len(matches) >= min_matches, f"only {len(matches)} windowed checks answered: {self.checks[-5:]}"
        carried = [c for c in matches if any(ours[0] > 0 for ours, _ in c[2].values())]
        assert carried, "no windowed check held a payment: the windows compared nothing"
        longest, first = self.longest_mismatch()
        assert longest <= within_s, f"windows mismatched for {longest:.2f} s from t={first[0]:.2f}: {first[1]}"
        assert self.checks[-1][1] == "match", f"the last windowed check did not agree: {self.checks[-1]}"
