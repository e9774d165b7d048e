"""The payment path end to end: gateway -> API -> Valkey -> workers -> processors, real processes
(or containers, with E2E_STACK=docker)."""

import json
import signal
import time
import urllib.parse
import uuid
from decimal import Decimal

from client import burst
from drill import iso_ms as iso


def requested_at_ms(stack, processor, cid):
    """The requestedAt the processor stored for a payment (its troubleshooting endpoint), which
    prints it as .NET does: no zone, fraction digits trimmed (none on a whole second)."""
    import calendar
    text = stack.processors[processor].get_json(f"/payments/{cid}")["requestedAt"].rstrip("Z")
    whole, _, fraction = text.partition(".")
    base = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return base * 1000 + int((fraction + "000")[:3])


def test_accepted_payments_are_booked_once_on_default_through_the_gateway(clean):
    acked, counts = burst(clean.gateway, 200, amount="19.90")
    assert counts == {202: 200}
    s = clean.settle(200)
    assert s["default"] == {"totalRequests": 200, "totalAmount": Decimal("3980.00")}
    assert s["fallback"]["totalRequests"] == 0
    clean.assert_agrees_with_processors(200)
    # Both APIs answer for the whole stack.
    assert clean.api1.summary() == clean.api2.summary() == clean.gateway.summary()


def test_amounts_are_kept_exactly_per_payment(clean):
    amounts = ["0.01", "19.9", "20.05", "1234567.89", "3"]
    for a in amounts:
        _, status = clean.gateway.pay(amount=a)
        assert status == 202
    s = clean.settle(len(amounts))
    assert s["default"]["totalAmount"] == sum(Decimal(a) for a in amounts)
    clean.assert_agrees_with_processors(len(amounts))


def test_summary_window_is_inclusive_at_millisecond_bounds_in_every_spelling(clean):
    ids = [clean.gateway.pay()[0] for _ in range(5)]
    clean.settle(5)
    stamps = sorted(requested_at_ms(clean, "default", cid) for cid in ids)
    t = stamps[2]
    same = sum(1 for x in stamps if x == t)
    before = sum(1 for x in stamps if x < t)
    after = sum(1 for x in stamps if x > t)

    def count(query):
        s = clean.gateway.summary(query)
        return s["default"]["totalRequests"]

    assert count(f"from={iso(t)}&to={iso(t)}") == same
    assert count(f"to={iso(t - 1)}") == before
    assert count(f"from={iso(t + 1)}") == after
    assert count(f"from={iso(t)}") == same + after
    # URL-encoded, microseconds, an offset with a literal and an encoded '+'.
    assert count("from=" + urllib.parse.quote(iso(t)) + "&to=" + urllib.parse.quote(iso(t))) == same
    micro = iso(t).replace("Z", "999Z")
    assert count(f"from={iso(t)}&to={micro}") == same
    plus = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1000 + 3600)) + f".{t % 1000:03d}+01:00"
    assert count(f"from={plus}&to={plus}") == same
    assert count(f"from={urllib.parse.quote(plus)}&to={urllib.parse.quote(plus)}") == same
    assert count("") == 5
    # The processors agree on the same window.
    theirs = clean.processor_summary("default", f"from={iso(t)}&to={iso(t)}")
    assert theirs["totalRequests"] == same


BAD_BODIES = [
    ("not json", 400), ("{", 400), ("[]", 400), ('{"correlationId":"a"}', 400),
    ('{"amount":1}', 400), ('{"correlationId":"not-a-uuid","amount":1}', 400),
    ('{"correlationId":"%s","amount":"19.90"}', 400), ('{"correlationId":"%s","amount":0}', 400),
    ('{"correlationId":"%s","amount":-5}', 400), ('{"correlationId":"%s","amount":1.234}', 400),
    ('{"correlationId":"%s","amount":1e2}', 400), ('{"correlationId":"%s","amount":null}', 400),
    ('{"correlationId":123,"amount":1}', 400), ('{"correlationId":"%s","amount":1,"amount":2}', 400),
    ('{"correlationId":"%s","amount":1} trailing', 400), ("", 400),
]


def test_every_bad_input_gets_a_4xx_with_a_json_message_and_changes_nothing(clean):
    for template, expected in BAD_BODIES:
        body = template % str(uuid.uuid4()) if "%s" in template else template
        status, text = clean.gateway.request("POST", "/payments", body)
        assert status == expected, (body, status, text)
        assert "error" in json.loads(text), text
    status, text = clean.gateway.request("POST", "/payments", '{"correlationId":"%s","amount":1,"pad":"%s"}'
                                         % (uuid.uuid4(), "x" * 5000))
    assert status == 413, (status, text)
    for query in ["from=yesterday", "to=2025-13-01T00:00:00Z", "from=2025-07-10T12:34:56.000", "from=%zz"]:
        status, text = clean.gateway.request("GET", "/payments-summary?" + query)
        assert status == 400 and "error" in json.loads(text), (query, status, text)
    status, _ = clean.gateway.request("GET", "/nope")
    assert status == 404
    status, _ = clean.gateway.request("DELETE", "/payments")
    assert status == 405
    time.sleep(0.5)
    assert clean.pending() == 0
    s = clean.gateway.summary()
    assert s["default"]["totalRequests"] == s["fallback"]["totalRequests"] == 0


def test_a_repeated_correlation_id_is_booked_once(clean):
    cid = str(uuid.uuid4())
    assert clean.gateway.pay(cid, "10.00")[1] == 202
    assert clean.gateway.pay(cid, "10.00")[1] == 202  # a retry of the same payment: accepted again
    status, text = clean.gateway.request("POST", "/payments", f'{{"correlationId":"{cid}","amount":11.00}}')
    assert status == 409 and "error" in json.loads(text)
    # Upper-case spelling of the same UUID is the same payment.
    assert clean.gateway.pay(cid.upper(), "10.00")[1] == 202
    clean.settle(1)
    time.sleep(0.5)
    clean.assert_agrees_with_processors(1)


def test_default_failing_moves_traffic_to_fallback_and_back(clean):
    burst(clean.gateway, 50)
    clean.settle(50)
    clean.set_processor("default", failure=True)
    burst(clean.gateway, 100)
    s = clean.settle(150)
    assert s["fallback"]["totalRequests"] >= 90, s
    clean.set_processor("default", failure=False)
    # A little traffic lets each worker's probe see default back (or the next health poll does).
    time.sleep(1.1)
    burst(clean.gateway, 10, threads=1)
    time.sleep(0.2)
    burst(clean.gateway, 100)
    s = clean.settle(260)
    assert s["default"]["totalRequests"] >= 50 + 95, s
    clean.assert_agrees_with_processors(260)


def test_a_slow_default_moves_traffic_to_fallback(clean):
    clean.set_processor("default", delay=2500)
    deadline = time.time() + 15  # the next health poll reports the delay
    while time.time() < deadline and clean.valkey("get", "{rinha}:health:default").split("|")[1:2] != ["2500"]:
        time.sleep(0.2)
    time.sleep(0.7)  # every worker reads the shared health twice a second
    burst(clean.gateway, 100)
    s = clean.settle(100, timeout=60)
    assert s["fallback"]["totalRequests"] >= 80, s
    clean.set_processor("default", delay=0)
    clean.assert_agrees_with_processors(100)


def test_both_failing_then_recovering_books_everything(clean):
    clean.set_processor("default", failure=True)
    clean.set_processor("fallback", failure=True)
    acked, counts = burst(clean.gateway, 300)
    assert counts == {202: 300}
    time.sleep(3)
    s = clean.gateway.summary()
    assert s["default"]["totalRequests"] == s["fallback"]["totalRequests"] == 0
    assert clean.pending() == 300
    clean.set_processor("fallback", failure=False)
    clean.set_processor("default", failure=False)
    clean.settle(300, timeout=60)
    clean.assert_agrees_with_processors(300)


def test_purge_clears_booked_and_pending_payments(clean):
    clean.set_processor("default", failure=True)
    clean.set_processor("fallback", failure=True)
    burst(clean.gateway, 50)
    clean.set_processor("default", failure=False)
    clean.set_processor("fallback", failure=False)
    time.sleep(0.3)
    status, _ = clean.gateway.request("POST", "/purge-payments")
    assert status == 200
    s = clean.gateway.summary()
    assert s["default"]["totalRequests"] == s["fallback"]["totalRequests"] == 0


def test_a_worker_killed_again_and_again_mid_burst_loses_and_doubles_nothing(clean):
    clean.set_processor("default", delay=30)  # keep payments in flight when the kill lands
    held = []  # what worker1 held an instant before each kill

    def chaos():
        for _ in range(4):
            time.sleep(0.4)
            held.append(clean.in_flight(lambda: clean.held_by("worker1"), timeout=2))
            clean.signal("worker1", signal.SIGKILL)
            time.sleep(0.2)
            clean.restart("worker1", wait=False)

    # The checker's windows are compared all along, not only once everything has settled.
    with clean.window_watch() as watch:
        acked, counts = burst(clean.gateway, 2000, amount="20.05", during=chaos)
        assert len(acked) == 2000, counts
        assert any(n > 0 for n in held), f"no kill landed on payments in flight: {held}"
        clean.settle(2000, timeout=90)
        time.sleep(2.5)  # the last payments enter the window [now-15 s, now-2 s]
    clean.assert_agrees_with_processors(2000)
    watch.assert_consistent()


def test_valkey_restarted_mid_burst_loses_and_doubles_nothing(clean):
    clean.set_processor("default", delay=30)  # keep payments in flight when the stop lands
    pending = []  # payments queued or held an instant before the stop

    def chaos():
        time.sleep(0.3)
        pending.append(clean.in_flight(clean.pending))
        clean.signal("valkey", signal.SIGTERM)
        clean.wait_exited("valkey", timeout=10)
        clean.restart("valkey")

    # A real client sends a payment again (same id) until it gets a 2xx.
    with clean.window_watch() as watch:
        acked, counts = burst(clean.gateway, 2000, amount="20.05", retry_until_2xx=True, during=chaos)
        assert len(set(acked)) == 2000, counts
        assert pending and pending[0] > 0, f"Valkey stopped with no payment in flight: {pending}"
        clean.settle(2000, timeout=90)
        time.sleep(2.5)
    clean.assert_agrees_with_processors(2000)
    # While Valkey is down the backend cannot answer (those checks do not count); once it is
    # back, the windows agree within the drills' 2 s.
    watch.assert_consistent()


def test_a_worker_stopped_with_sigterm_hands_back_what_it_held(clean):
    clean.set_processor("default", delay=300)

    held = []  # what worker2 held an instant before the signal

    def stop():
        time.sleep(0.3)
        held.append(clean.in_flight(lambda: clean.held_by("worker2")))
        clean.signal("worker2", signal.SIGTERM)

    acked, _ = burst(clean.gateway, 500, during=stop)
    assert len(acked) == 500
    assert held and held[0] > 0, f"worker2 held nothing when it was stopped: {held}"
    # The worker hands back what it held before it exits; restarting it earlier finds it still
    # running (and leaves it down once it has exited).
    clean.wait_exited("worker2", timeout=20)
    clean.restart("worker2")
    clean.set_processor("default", delay=0)
    clean.settle(500, timeout=60)
    clean.assert_agrees_with_processors(500)


def test_one_leader_polls_health_at_most_once_per_five_seconds_and_a_new_one_takes_over(clean):
    def polls(seconds, until_after=None, then=6):
        """The polls seen over `seconds`; with `until_after`, stop `then` s after the first poll
        newer than that one (so that the spacing of two polls by the new leader can be seen)."""
        seen = set()
        end = time.time() + seconds
        while time.time() < end:
            v = clean.valkey("get", "{rinha}:health:default")
            if v:
                seen.add(int(v.split("|")[2]))
                if until_after is not None and max(seen) > until_after:
                    end = min(end, time.time() + then)
            time.sleep(0.1)
        return sorted(seen)

    first = polls(11)
    assert len(first) >= 2
    assert all(b - a >= 5000 for a, b in zip(first, first[1:])), first
    leader = clean.valkey("get", "{rinha}:leader")
    assert leader in ("worker1", "worker2")
    successor = "worker2" if leader == "worker1" else "worker1"
    assert clean.valkey("exists", "{rinha}:heartbeat:" + successor) == "1", f"{successor} is not up"
    clean.signal(leader, signal.SIGKILL)
    # A killed leader's health call may still hold its place in the processor's queue (a dead
    # container's connection is not reset): the next leader's call can wait a window more, and on
    # a crowded machine the 6 s health call deadline may cost it one more gate interval.
    later = polls(40, until_after=first[-1])
    assert later and later[-1] > first[-1], (first, later)
    assert all(b - a >= 5000 for a, b in zip(later, later[1:])), later
    assert clean.valkey("get", "{rinha}:leader") not in ("", leader)
    clean.restart(leader)
