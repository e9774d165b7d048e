"""The container stack only (E2E_STACK=docker): compose.yaml run by a Docker engine, checked where
only containers can tell: the limits the engine applies, restarts, the user the binaries run as,
the start order, SIGTERM through `docker compose stop`, and hostile bytes on the published port."""

import json
import os
import socket
import subprocess
import time
import uuid

import pytest
import yaml

from client import burst

pytestmark = pytest.mark.skipif(os.environ.get("E2E_STACK") != "docker",
                                reason="container stack only (E2E_STACK=docker, see tools/test)")

import containerstack as cs  # noqa: E402

ROOT = cs.ROOT


@pytest.fixture(scope="module")
def compose():
    with open(ROOT / "compose.yaml") as f:
        return yaml.safe_load(f)


def info(service):
    return cs.inspect(cs.container_name(service))


def limits(svc):
    return svc["deploy"]["resources"]["limits"]


def test_the_engine_runs_exactly_compose_services_with_their_limits(stack, compose):
    running = {name for name in cs.containers() if not name.startswith("processor-")}
    assert running == set(compose["services"])
    for name, svc in compose["services"].items():
        i = info(name)
        assert i["State"]["Running"], name
        host = i["HostConfig"]
        assert host["Memory"] == cs.localstack.memory_bytes(limits(svc)["memory"]), name
        assert host["NanoCpus"] == round(float(limits(svc)["cpus"]) * 1e9), name
        assert host["CpuShares"] == svc.get("cpu_shares", 0), name
        assert host["RestartPolicy"]["Name"] in ([svc["restart"]] if "restart" in svc else ["", "no"]), name
        assert not host["Privileged"] and host["NetworkMode"] != "host", name
    # The workers reach the processors by name on the external network.
    nets = info("worker1")["NetworkSettings"]["Networks"]
    assert "payment-processor" in nets
    published = info("gateway")["NetworkSettings"]["Ports"]["9999/tcp"]
    assert published and published[0]["HostPort"] == "9999"


def test_the_binaries_run_as_the_non_root_user_of_the_image(stack, compose):
    for name, svc in compose["services"].items():
        i = info(name)
        uid = next(line.split()[1] for line in open(f"/proc/{i['State']['Pid']}/status") if line.startswith("Uid:"))
        assert uid != "0", (name, uid)
        if "RINHA_IMAGE" in svc["image"]:
            assert i["Config"]["User"] == "rinha:rinha", name
            assert uid == "10001", (name, uid)
    # The image alone, whatever command: the same user.
    whoami = subprocess.run(["docker", "run", "--rm", cs.app_image(), "id", "-u"], capture_output=True, text=True)
    assert whoami.stdout.strip() == "10001", whoami


def test_containers_start_in_the_order_depends_on_says(stack, compose):
    lines = (cs.STATE / "up-events.jsonl").read_text().splitlines()  # recorded by `up`
    first_start = {}
    for line in lines:
        e = json.loads(line)
        service = e.get("Actor", {}).get("Attributes", {}).get("com.docker.compose.service")
        if e.get("status") == "start":
            first_start.setdefault(service, e["timeNano"] / 1e9)
    assert set(first_start) == set(compose["services"]), first_start
    checked = 0
    for name, svc in compose["services"].items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert cond["condition"] == "service_started"
            assert first_start[dep] <= first_start[name], (name, "started before", dep)
            checked += 1
    assert checked >= 6


def test_an_idle_stack_never_meets_a_cpu_quota(clean, compose):
    # A periodic `docker exec` (a health check: ~26 ms of CPU for runc alone) stopped each API
    # once a second against its 0.2-CPU quota. Idle, nothing of ours comes near a quota.
    quota = [n for n, svc in compose["services"].items() if "cpus" in limits(svc)]
    before = {n: cs.cpu_stat(info(n)["State"]["Pid"]) for n in quota}
    time.sleep(6)
    for n in quota:
        periods, throttled, _ = cs.cpu_stat(info(n)["State"]["Pid"])
        assert throttled == before[n][1], (n, throttled - before[n][1], "throttled periods of", periods - before[n][0])


def test_the_apis_and_workers_wait_for_valkey_when_they_start_before_it(clean):
    # No health check orders the start: a process that starts before Valkey answers waits for it.
    # Payments sent meanwhile are refused (503, nothing accepted); sent again, each is booked once.
    n = 300
    started = ("api1", "api2", "worker1", "worker2")
    cs.compose("stop", *started, "valkey")

    def refused_for_storage():
        status, text = clean.gateway.request("POST", "/payments", {"correlationId": str(uuid.uuid4()), "amount": 1.5})
        return status == 503 and "storage unavailable" in text

    def valkey_comes_back():
        time.sleep(1)  # the burst's first payments meet the missing Valkey
        cs.compose("start", "valkey")

    try:
        # docker, not compose: compose would start Valkey first, as depends_on says.
        subprocess.run(["docker", "start", *(cs.container_name(s) for s in started)], check=True,
                       capture_output=True)
        # Through the gateway to an API that runs and has found no Valkey (not the gateway's own
        # 503 while no API is linked).
        deadline = time.time() + 20
        while not refused_for_storage():
            assert time.time() < deadline, "no API answered that its storage is missing"
            time.sleep(0.2)
        assert not info("valkey")["State"]["Running"]
        for name in started:
            assert info(name)["State"]["Running"], name
        acked, counts = burst(clean.gateway, n, threads=16, retry_until_2xx=True, during=valkey_comes_back)
    finally:
        cs.compose("start", "valkey")  # a no-op when it runs
    assert counts.get(503, 0) > 0, counts  # the outage met payments of the burst
    assert len(acked) == n, counts
    clean.settle(n, timeout=60)
    clean.assert_agrees_with_processors(n)
    for name in started:
        assert info(name)["RestartCount"] == 0, name


def test_peak_memory_of_every_container_stays_under_its_limit_after_a_burst(clean, compose):
    acked, counts = burst(clean.gateway, 3000, threads=32)
    assert len(acked) == 3000, counts
    clean.settle(3000, timeout=90)
    for name, svc in compose["services"].items():
        i = info(name)
        cur, peak, cg_limit = cs.cgroup_memory(i["State"]["Pid"])
        limit = cs.localstack.memory_bytes(limits(svc)["memory"])
        assert cg_limit == limit, (name, cg_limit, limit)
        assert peak is not None and 0 < peak < limit, (name, peak, limit)
        assert not i["State"]["OOMKilled"], name
    clean.assert_agrees_with_processors(3000)


def test_no_container_was_restarted_or_killed_for_memory(stack):
    for name in cs.containers():
        i = info(name)
        assert i["RestartCount"] == 0, (name, i["RestartCount"])
        assert i["State"]["Running"] and not i["State"]["OOMKilled"], (name, i["State"])


def test_sigterm_through_docker_compose_stop_hands_payments_back(clean):
    # Slow processors: each worker holds up to its in-flight cap (500) in calls when the stop
    # lands, and the rest waits in Valkey's queue.
    n = 1500
    for p in ("default", "fallback"):
        clean.set_processor(p, delay=5000)
    acked, counts = burst(clean.gateway, n, threads=32)
    assert len(acked) == n, counts
    # The workers hold calls out at the processors when the stop lands, not only queued payments.
    held = clean.in_flight(lambda: clean.held_by("worker1") + clean.held_by("worker2"))
    assert held > 0, "no worker held a payment when the stop came"
    try:
        cs.compose("stop", "worker1", "worker2")  # SIGTERM, then SIGKILL after stop_grace_period
        for w in ("worker1", "worker2"):
            state = info(w)["State"]
            assert not state["Running"] and state["ExitCode"] == 0, (w, state)  # drained, not SIGKILLed
            assert clean.valkey("llen", f"{{rinha}}:processing:{w}") == "0", w
        s = clean.gateway.summary()
        booked = s["default"]["totalRequests"] + s["fallback"]["totalRequests"]
        assert booked < n, "the stop landed too late to test anything"
        # Valkey holds the rest. A payment whose call was still out when its worker stopped is
        # handed back too (pinned to its processor, it is booked once when sent again), so the
        # queue may hold some of the booked ones as well.
        assert int(clean.valkey("llen", "{rinha}:queue")) >= n - booked
    finally:
        for p in ("default", "fallback"):
            clean.set_processor(p, delay=0)
        cs.compose("start", "worker1", "worker2")
    clean.settle(n, timeout=90)
    time.sleep(0.5)
    clean.assert_agrees_with_processors(n)


def raw(payload, read_timeout=3.0):
    """Sends bytes to the published port; -> what came back before the close or the timeout."""
    with socket.create_connection(("127.0.0.1", cs.GATEWAY_PORT), timeout=read_timeout) as s:
        try:
            s.sendall(payload)
        except OSError:
            return b""
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data and b"Connection: close" not in data and len(data) > 12:
                    # One full answer is enough unless the server says it closes.
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    if len(body) >= length:
                        break
        except (socket.timeout, ConnectionResetError):
            pass
        return data


def status_of(answer):
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


HOSTILE = [
    b"\x00\xff\xfe garbage \r\n\r\n",
    b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /payments-summary HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 70000 + b"\r\n\r\n",
    b"GET /payments-summary HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(2000)) + b"\r\n",
    b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}",
    b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{}",
    b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\n{}",
    b"POST /payments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"POST /payments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n{}\r\n",
    b"GET /payments-summary HTTP/9.9\r\nHost: x\r\n\r\n",
    b"\r\n\r\n\r\n\r\n",
]


def test_hostile_bytes_on_the_published_port_get_a_4xx_or_a_close_and_break_nothing(clean):
    for payload in HOSTILE:
        answer = raw(payload)
        code = status_of(answer)
        assert code is None or 400 <= code < 500, (payload[:60], answer[:200])
        assert answer == b"" or code is not None, (payload[:60], answer[:200])  # HTTP or nothing
    # Slow clients holding connections with half a request do not block a real one.
    held = []
    for _ in range(64):
        s = socket.create_connection(("127.0.0.1", cs.GATEWAY_PORT), timeout=5)
        s.sendall(b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"corr")
        held.append(s)
    try:
        cid, status = clean.gateway.pay(str(uuid.uuid4()), "12.34")
        assert status == 202
    finally:
        for s in held:
            s.close()
    # A pipelined burst in one write: every answer, in order.
    pipelined = b"".join(b"GET /payments-summary HTTP/1.1\r\nHost: x\r\n\r\n" for _ in range(50))
    with socket.create_connection(("127.0.0.1", cs.GATEWAY_PORT), timeout=5) as s:
        s.sendall(pipelined)
        data, deadline = b"", time.time() + 10
        while data.count(b"HTTP/1.1 200") < 50 and time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.count(b"HTTP/1.1 200") == 50
    s = clean.settle(1)
    assert s["default"]["totalRequests"] + s["fallback"]["totalRequests"] == 1
    clean.assert_agrees_with_processors(1)
    for name in cs.containers():
        i = info(name)
        assert i["State"]["Running"] and i["RestartCount"] == 0, name
