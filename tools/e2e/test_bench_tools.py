"""tools/bench's own parts: the floor server (compiled with gcc, over a real socket) answers as the
spec says and keeps pipelined requests in order; the targets check flags each kind of miss; the
per-payment arithmetic divides by the successful payments."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "lib"))
import bench_metrics  # noqa: E402
import bench_timeline  # noqa: E402
from procs import free_port  # noqa: E402

SUMMARY = {"default": {"totalRequests": 0, "totalAmount": 0}, "fallback": {"totalRequests": 0, "totalAmount": 0}}


@pytest.fixture(scope="module")
def floor(tmp_path_factory):
    if not shutil.which("gcc"):
        pytest.fail("gcc is needed to build the floor server")
    binary = tmp_path_factory.mktemp("floor") / "floor-server"
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", str(binary), str(ROOT / "tools" / "floor" / "floor-server.c")],
                   check=True)
    port = free_port()
    p = subprocess.Popen([str(binary), str(port)], stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    p.terminate()
    p.wait(timeout=5)


def exchange(port, data, replies):
    """Sends `data` on one connection and reads until `replies` complete answers arrived."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        buf = b""
        answers = []
        while len(answers) < replies:
            chunk = s.recv(65536)
            assert chunk, f"connection closed after {len(answers)} answers"
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), b"0"))
                if len(rest) < length:
                    break
                answers.append((head.split(b"\r\n")[0].decode(), rest[:length]))
                buf = rest[length:]
        return answers


def test_floor_answers_each_route_as_the_spec_says(floor):
    body = b'{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.9}'
    req = (b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
           + str(len(body)).encode() + b"\r\n\r\n" + body
           + b"GET /payments-summary?from=2025-07-10T12:34:56.000Z&to=2025-07-10T12:35:56.000Z HTTP/1.1\r\nHost: x\r\n\r\n"
           + b"GET /payments-summary HTTP/1.1\r\nHost: x\r\n\r\n"
           + b"POST /purge-payments HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
           + b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
    answers = exchange(floor, req, 5)
    assert [a[0] for a in answers] == ["HTTP/1.1 202 Accepted", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK",
                                       "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"]
    assert answers[0][1] == b""
    assert json.loads(answers[1][1]) == SUMMARY and json.loads(answers[2][1]) == SUMMARY


def test_floor_keeps_many_pipelined_requests_in_order_even_split_mid_request(floor):
    one = b"POST /payments HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
    summary = b"GET /payments-summary HTTP/1.1\r\n\r\n"
    data = (one * 500) + summary
    with socket.create_connection(("127.0.0.1", floor), timeout=5) as s:
        s.sendall(data[:7])  # a request cut in the middle waits for its rest
        time.sleep(0.05)
        s.sendall(data[7:])
        buf = b""
        while buf.count(b"HTTP/1.1") < 501 or not buf.endswith(b"}}"):
            chunk = s.recv(65536)
            assert chunk
            buf += chunk
    assert buf.count(b"HTTP/1.1 202") == 500
    assert buf.rindex(b"HTTP/1.1 200") > buf.rindex(b"HTTP/1.1 202")


def result(p99, phases, inconsistencies=0, lag=0):
    return {"multa": {"composicao": {"num_inconsistencias": inconsistencies}}, "lag": {"lag": lag},
            "extra": {"p99_ms_unrounded": p99,
                      "phases": [{"phase": f"{i:02d}", "from_s": i * 10, "to_s": i * 10 + 10, "p99_ms": v}
                                 for i, v in enumerate(phases)]}}


def test_targets_pass_within_the_ratios():
    _, misses, summary = bench_metrics.targets([result(3.0, [2.0, 3.9])], [result(2.0, [1.0, 2.0])])
    assert misses == [] and summary["ok"]
    assert summary["p99_ratio"] == pytest.approx(1.5)


@pytest.mark.parametrize("stack, expected", [
    (result(3.1, [2.0, 2.0]), "p99"),
    (result(2.0, [2.1, 2.0]), "phase 00"),
    (result(2.0, [1.0, 1.0], inconsistencies=1), "inconsistencies"),
    (result(2.0, [1.0, 1.0], lag=3), "lag 3"),
    (result(2.0, [1.0, 1.0], lag=-1), "negative"),
])
def test_targets_flag_each_kind_of_miss(stack, expected):
    _, misses, summary = bench_metrics.targets([stack], [result(2.0, [1.0, 1.0])])
    assert not summary["ok"]
    assert any(expected in m for m in misses), misses


def test_targets_compare_medians_of_the_runs():
    stack = [result(2.0, [1.0]), result(9.0, [1.0]), result(2.5, [1.0])]  # one bad run out of three
    floor = [result(2.0, [1.0]), result(1.0, [1.0]), result(2.0, [1.0])]
    _, misses, summary = bench_metrics.targets(stack, floor)
    assert summary["p99_ms"] == 2.5 and summary["floor_p99_ms"] == 2.0
    assert misses == []


def test_per_payment_divides_by_successful_payments_and_totals_the_stack():
    deltas = {"gateway": {"cpu_s": 1.0, "vcsw": 100, "ivcsw": 50}, "valkey": {"cpu_s": 3.0, "vcsw": 300, "ivcsw": 0},
              "processor-default": {"cpu_s": 5.0, "vcsw": 1, "ivcsw": 1}}
    commands = {"evalsha": {"calls": 2000, "usec": 1}, "config|resetstat": {"calls": 1, "usec": 1}}
    pp = bench_metrics.per_payment(deltas, commands, 1000)
    assert pp["processes"]["gateway"]["cpu_us"] == pytest.approx(1000)
    assert pp["stack_total"]["cpu_us"] == pytest.approx(4000)  # the simulator is not the stack's
    assert pp["stack_total"]["ctx_switches"] == pytest.approx(0.45)
    assert pp["valkey_commands"]["per_command"] == {"evalsha": 2.0}


def test_process_counters_read_this_process():
    c = bench_metrics.counters(os.getpid())
    assert c["cpu_ticks"] >= 0 and c["vcsw"] + c["ivcsw"] > 0


def test_processor_counts_per_phase_come_from_the_processors_windows(stack, clean):
    """Payments stored at the simulators under requestedAt values inside, at the edges of and after
    three phases' windows are counted in the phase they were sent in; the last phase takes the
    drain after the script's end; a processor that cannot be read gives None, not a wrong zero."""
    import localstack
    from datetime import datetime, timezone
    import uuid
    start = int(datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)  # far from this run's own payments
    sent = {"default": [1_000, 1_500, 9_999, 10_000], "fallback": [25_000, 29_999, 30_000 + 70_000]}
    for p, offsets in sent.items():
        for ms in offsets:
            body = {"correlationId": str(uuid.uuid4()), "amount": 19.9, "requestedAt": bench_metrics.iso_ms(start + ms)}
            status, text = stack.processors[p].request("POST", "/payments", body)
            assert status == 200, text
    r = {"extra": {"started_at_ms": start, "phases": [{"phase": f"{i:02d}", "from_s": i * 10, "to_s": i * 10 + 10,
                                                      "p99_ms": 1.0, "requests": 1} for i in range(3)]}}
    urls = {p: f"http://{client.target}" for p, client in stack.processors.items()}
    assert bench_metrics.add_processor_counts(r, urls, localstack.TOKEN)
    assert [p["payments"] for p in r["extra"]["phases"]] == [
        {"default": 3, "fallback": 0}, {"default": 1, "fallback": 0}, {"default": 0, "fallback": 3}]
    lines = bench_metrics.phase_lines(r)
    assert lines[0].split()[-2:] == ["default", "fallback"] and lines[3].split()[-2:] == ["0", "3"]
    bench_metrics.add_processor_counts(r, {"default": urls["default"], "fallback": f"http://127.0.0.1:{free_port()}"},
                                       localstack.TOKEN, timeout=1)
    assert r["extra"]["phases"][0]["payments"] == {"default": 3, "fallback": None}
    assert bench_metrics.phase_lines(r)[1].split()[-1] == "-"
    assert not bench_metrics.add_processor_counts({"extra": {"phases": r["extra"]["phases"]}}, urls, localstack.TOKEN)


def write_k6_csv(path, rows):
    """A k6 CSV output (K6_OUT=csv=...) with the columns bench_timeline reads."""
    import gzip
    with gzip.open(path, "wt") as f:
        f.write("metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,"
                "proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata\n")
        for metric, second, value, method, url in rows:
            f.write(f"{metric},{second},{value},,,,true,,{method},{url},HTTP/1.1,,,202,,,{url},,\n")


def test_timeline_reads_only_the_backends_payment_posts(tmp_path):
    csv_gz = tmp_path / "k6.csv.gz"
    write_k6_csv(csv_gz, [
        ("http_req_duration", 100, 1.5, "POST", "http://127.0.0.1:9999/payments"),
        ("http_req_duration", 100, 9.0, "GET", "http://127.0.0.1:9999/payments-summary"),
        ("http_req_duration", 101, 7.0, "POST", "http://127.0.0.1:8001/payments"),  # a processor's
        ("http_req_waiting", 101, 3.0, "POST", "http://127.0.0.1:9999/payments"),
        ("http_req_duration", 102, 2.5, "POST", "http://127.0.0.1:9999/payments"),
    ])
    assert bench_timeline.read_requests(csv_gz, "http://127.0.0.1:9999") == {100: [1.5], 102: [2.5]}


def test_timeline_parses_valkey_rewrites_from_its_log(tmp_path):
    log = tmp_path / "valkey.log"
    log.write_text(
        "1:M 30 Nov 2026 20:48:40.614 * Starting automatic rewriting of AOF on 100% growth\n"
        "1:M 30 Nov 2026 20:48:40.630 * Background append only file rewriting started by pid 9\n"
        "9:C 30 Nov 2026 20:48:40.700 * Fork CoW for AOF rewrite: current 1 MB\n"
        "1:M 30 Nov 2026 20:48:41.250 * Background AOF rewrite terminated with success\n")
    [(start, end)] = bench_timeline.valkey_rewrites(log)
    assert end - start == pytest.approx(0.62, abs=1e-3)
    assert bench_timeline.valkey_rewrites(tmp_path / "missing.log") == []


def test_timeline_puts_each_slow_request_in_its_seconds_cause():
    # 100 requests a second for 20 s at 1 ms, except: second 1 has 12 at 50 ms (during a rewrite),
    # second 2 has 4 at 40 ms (Valkey's quota stopped it 30 ms), second 3 has 3 at 60 ms (neither).
    # 19 slow of 2,000: the p99 is 1 ms and all 19 are over it.
    requests = {s: [1.0] * 100 for s in range(1000, 1020)}
    requests[1001][:12] = [50.0] * 12
    requests[1002][:4] = [40.0] * 4
    requests[1003][:3] = [60.0] * 3
    samples, k6, throttled = [], 0, 0.0
    for i in range(201):  # every 100 ms; k6 three times as busy in second 1
        t = 1000.0 + i / 10
        if i:
            k6 += 3 if int(t) == 1001 else 1
        if round(t, 1) == 1002.5:
            throttled = 0.03
        samples.append((t, (2 * i, 2 * i, 0), {"k6": k6, "valkey": i}, {"valkey": throttled}))
    lines, summary = bench_timeline.report(requests, samples, [(1001.2, 1001.6)], ["k6", "valkey"])
    assert summary["p99_ms"] == 1.0 and summary["slow_requests"] == 19
    assert summary["slow_share"] == pytest.approx({"rewrite": 12 / 19, "quota": 4 / 19, "neither": 3 / 19})
    assert summary["spike_seconds"] == 1 and summary["calm_seconds"] == 19
    assert summary["cores"]["spike"]["k6"] == pytest.approx(3 * summary["cores"]["calm"]["k6"], rel=0.15)
    assert any(line.endswith("rewrite") for line in lines) and any("valkey 30" in line for line in lines)
