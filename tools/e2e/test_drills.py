"""Fault drills under load (tools/lib/drill.py at its CI scale): SIGKILL of each worker, each API, the
gateway and Valkey, each started again at once, and Valkey SIGSTOPped for 5 s, while ~200 new
payments a second go through the gateway and the checker's windows are compared every second."""

import json
import os

import pytest

import drill
import drill_report
import localstack


@pytest.mark.skipif(os.environ.get("E2E_STACK") == "docker",
                    reason="the drill drives local processes (tools/drill); containers get test_containers.py")
def test_kill_drills_under_load_lose_nothing_book_nothing_twice_and_strike_payments_in_flight(stack):
    report = drill.run(drill.Config(**drill.SCALES["ci"]), log=lambda m: print(f"[drill] {m}", flush=True))
    # Kept for a look after a failure (the run folder is the e2e suite's).
    (localstack.run_dir() / "drill.json").write_text(json.dumps(report, indent=2, default=str))
    print("\n".join(drill_report.table(report)))

    assert [r["fault"] for r in report["faults"]] == list(drill.FAULTS)
    for r in report["faults"]:
        assert r["in_flight"] > 0, f"{r['fault']} struck with nothing in flight: {r['in_flight_detail']}"
        assert r["error"] is None, r
        if drill.handoff_mode() and r["fault"] == "gateway":
            # No request crosses a gateway that hands connections over: its kill strikes requests
            # on connections it handed over, and their API answers them all the same.
            assert r["struck_answered"] > 0, r
    assert report["errors"] == []
    assert report["payments"]["acknowledged"] >= 0.9 * report["payments"]["sent"], report["payments"]
    assert report["settle"]["settled"], report["settle"]
    assert report["lookup"]["failures"] == 0
    assert report["lookup"]["looked_up"] == report["payments"]["sent"]
    # Every payment a processor holds is one of ours, looked up by id.
    assert report["lookup"]["found_in_processors"] == report["lookup"]["processors_total"], report["lookup"]
    assert report["lost"] == 0, report["lost_ids"]
    assert report["sent_to_both"] == 0, report["sent_to_both_ids"]
    assert report["double_booked"] == 0, report["over"]
    assert report["never_booked"] == 0, report["under"]
    assert report["wrong_amount"] == 0, report["wrong_amount_ids"]
    assert report["ok"], report["rules"]
