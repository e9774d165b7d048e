"""Valkey at its limits, end to end: full (maxmemory reached) and stalled (SIGSTOP). In both, a
client is told the truth: 202 means the payment will be booked once, 503 means it was not
taken; and the processors agree with our summary afterwards."""

import os
import signal
import threading
import time

import localstack
from client import burst


def info(stack, section, field):
    for line in stack.valkey("info", section).splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{field} not in INFO {section}")


def test_a_full_valkey_refuses_new_payments_with_503_and_books_every_accepted_one(clean):
    configured = clean.valkey("config", "get", "maxmemory").split()[-1]
    clean.set_processor("default", delay=20)  # payments are still in flight when Valkey fills up
    used = int(info(clean, "memory", "used_memory"))
    # Room for a few hundred payments: the burst fills it while earlier ones are being booked.
    clean.valkey("config", "set", "maxmemory", str(used + 150_000))
    try:
        acked, counts = burst(clean.gateway, 3000, amount="20.05", threads=32)
        assert set(counts) <= {202, 503}, counts
        assert counts.get(503, 0) > 0, f"Valkey never filled up: {counts}"
        assert counts.get(202, 0) > 0, counts
        # Refused with a message that says why.
        status, body = clean.api1.request(
            "POST", "/payments", '{"correlationId":"7b5b2f5e-4b0a-4b9e-8f5e-2b1f9d3c1a01","amount":1}')
        assert status == 503 and "storage full" in body, (status, body)
        # Every accepted payment is booked although Valkey stays full: booking may exceed it.
        s = clean.settle(len(acked), timeout=60)
        assert s["default"]["totalRequests"] + s["fallback"]["totalRequests"] == len(acked)
        assert int(info(clean, "memory", "used_memory")) > used + 150_000 - 1
        clean.assert_agrees_with_processors(len(acked))
    finally:
        clean.valkey("config", "set", "maxmemory", configured)
    # With room again, payments are taken as before.
    _, status = clean.gateway.pay()
    assert status == 202
    clean.settle(len(acked) + 1)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_a_stalled_valkey_gets_clients_a_503_within_about_a_second_and_nothing_they_were_refused_is_booked(clean):
    # The APIs' memory is read from /proc for local processes; in containers the stall is the same.
    local = os.environ.get("E2E_STACK") != "docker"
    apis = [localstack.process(n)["pid"] for n in ("api1", "api2")] if local else []
    before = [rss_kb(p) for p in apis]
    timings, lock = [], threading.Lock()
    original_pay = clean.gateway.pay

    def timed_pay(cid=None, amount="19.90"):
        t = time.monotonic()
        result = original_pay(cid, amount)
        with lock:
            timings.append((time.monotonic() - t, result[1]))
        return result

    clean.gateway.pay = timed_pay
    clean.signal("valkey", signal.SIGSTOP)
    try:
        # About five seconds of steady payments while Valkey answers nothing.
        acked_during, counts = burst(clean.gateway, 150, threads=30)
        stalled_rss = [rss_kb(p) for p in apis]
    finally:
        clean.signal("valkey", signal.SIGCONT)
        clean.gateway.pay = original_pay
    assert counts.get(503, 0) > 0, counts
    assert set(counts) <= {202, 503}, counts
    slowest = max(t for t, _ in timings)
    assert slowest < 1.5, f"a client waited {slowest:.2f} s"
    # Commands did not pile up in the APIs' memory while Valkey was stopped.
    for b, s in zip(before, stalled_rss):
        assert s - b < 8 * 1024, (before, stalled_rss)
    # After the stall: what was acknowledged is booked, what was refused is not (even though
    # the APIs had sent it to Valkey, which ran it when it woke up).
    clean.settle(len(acked_during), timeout=60)
    time.sleep(1.0)
    clean.assert_agrees_with_processors(len(acked_during))
    _, status = clean.gateway.pay()
    assert status == 202
    clean.settle(len(acked_during) + 1)
