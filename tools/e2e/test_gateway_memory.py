"""Memory stays within the compose limits under a memory attack, in both gateway modes.

The attack:
  - 40 clients trickle 1 MB request bodies, half announced by Content-Length, half chunked;
  - 10,000 TCP connections are opened and left idle;
  - a normal client opens a new connection and sends a payment.
Asserted: peak resident memory (VmHWM) stays under the compose memory limit, every trickling
client got 413, and the normal request got its 202.

Proxy mode: the release-built rinha-gateway runs as compose.yaml runs it (its command and
environment, the listen address and upstream sockets moved here, GATEWAY_MODE=proxy) in front of
two small HTTP upstreams on Unix sockets; the point is the gateway's memory. Handoff mode (what
compose.yaml ships): the APIs hold the connections, so the attack goes at the local stack, and the
gateway's and both APIs' memory are checked.
"""

import os
import resource
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import localstack
from procs import free_port

ROOT = Path(__file__).resolve().parents[2]
IDLE_SOCKETS = 10_000
TRICKLERS = 40
BODY_BYTES = 1024 * 1024

# Two HTTP/1.1 upstreams on Unix sockets, answering every request 202 with an empty body.
UPSTREAM = textwrap.dedent("""
    import asyncio, sys

    async def serve(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\\r\\n\\r\\n")
                length = 0
                for line in head.split(b"\\r\\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(b"HTTP/1.1 202 Accepted\\r\\ncontent-length: 0\\r\\n\\r\\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            writer.close()

    async def main():
        servers = [await asyncio.start_unix_server(serve, path=p) for p in sys.argv[1:]]
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())
""")


def gateway_binary():
    """The release binary the stack runs, built (this product only) if missing or stale."""
    binary = localstack.build_dir() / "rinha-gateway"
    sources = [p for p in (ROOT / "Sources").rglob("*.swift")]
    newest = max(p.stat().st_mtime for p in sources)
    if not binary.exists() or binary.stat().st_mtime < newest:
        if "STACK_BUILD_DIR" in os.environ:
            pytest.fail(f"{binary} is missing or older than the sources")
        subprocess.run([str(ROOT / "tools" / "build-release"), "rinha-gateway"], cwd=ROOT, check=True)
        binary.touch()
    return binary


def wait_until(check, what, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what} not ready after {timeout} s")


def status_of(sock, timeout):
    """The status code of the first answer on `sock`, or None if none comes (closed, reset, late)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and data.startswith(b"HTTP/1.") else None


def trickle(port, chunked, started, results, index):
    """Sends the head of a 1 MB body, then the body a little at a time, checking before each
    piece whether the gateway has answered (as a client that reads early answers does)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY_BYTES}"
    sock.sendall(f"POST /payments HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
                 .encode() + (f"{BODY_BYTES:x}\r\n".encode() if chunked else b""))
    started.release()
    sent = 0
    piece = b"7" * 128
    status = None
    try:
        while sent < BODY_BYTES:
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:
                break
            sock.sendall(piece)
            sent += len(piece)
    except OSError:
        pass  # the gateway closed after answering: the answer is read below
    status = status_of(sock, timeout=10)
    results[index] = (status, sent)
    sock.close()


def vm_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing for pid {pid}")


@pytest.fixture()
def gateway(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = IDLE_SOCKETS + TRICKLERS + 1000
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {needed}")
    # Raised here, inherited by the gateway: both ends of the idle sockets live on this machine.
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else hard, hard))

    svc = next(s for s in localstack.services() if s["name"] == "gateway")
    sockets = [tmp_path / "api1.sock", tmp_path / "api2.sock"]
    upstream = subprocess.Popen([sys.executable, "-c", UPSTREAM, *map(str, sockets)])
    procs = [upstream]
    try:
        for s in sockets:
            wait_until(lambda s=s: s.exists(), f"upstream {s.name}")
        port = free_port()
        env = {**os.environ, **svc["environment"]}
        env["GATEWAY_LISTEN"] = f"127.0.0.1:{port}"
        env["GATEWAY_UPSTREAMS"] = ",".join(map(str, sockets))
        env["GATEWAY_MODE"] = "proxy"
        argv = [str(gateway_binary()), *svc["command"][1:]]
        proc = subprocess.Popen(argv, env=env)
        procs.append(proc)

        def listening():
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        wait_until(listening, "gateway")
        yield proc, port, svc["memory"]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def payment(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    body = b'{"correlationId":"4a7b0000-0000-4000-8000-000000000001","amount":19.90}'
    sock.sendall(b"POST /payments HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    status = status_of(sock, timeout=10)
    sock.close()
    return status


def attack(port):
    """Tricklers, then the idle sockets, then a normal payment; -> (its status, the tricklers'
    results, what `measure` returned while everything was still open)."""
    started = threading.Semaphore(0)
    results = [None] * TRICKLERS
    threads = [threading.Thread(target=trickle, args=(port, i % 2 == 1, started, results, i), daemon=True)
               for i in range(TRICKLERS)]
    for t in threads:
        t.start()
    for _ in threads:  # every trickler has sent its head before the idle sockets come
        assert started.acquire(timeout=30)

    idle = []
    try:
        for _ in range(IDLE_SOCKETS):
            s = socket.socket()
            s.connect(("127.0.0.1", port))
            idle.append(s)
        during = payment(port)
        for t in threads:
            t.join(60)
    finally:
        for s in idle:
            s.close()
    return during, results


def assert_tricklers_refused_early(results):
    assert all(r is not None for r in results), results
    assert [r[0] for r in results] == [413] * TRICKLERS, results
    # Refused early: no trickler got anywhere near its megabyte through.
    assert max(r[1] for r in results) < 64 * 1024, results


def test_gateway_memory_bounded_under_slow_bodies_and_idle_sockets(gateway):
    proc, port, limit_bytes = gateway
    assert limit_bytes, "compose.yaml gives the gateway no memory limit"
    assert payment(port) == 202
    during, results = attack(port)
    alive = proc.poll() is None
    hwm_kb = vm_kb(proc.pid, "VmHWM") if alive else None
    print(f"gateway VmHWM {hwm_kb} kB with {IDLE_SOCKETS} idle sockets opened; "
          f"limit {limit_bytes // 1024} kB; tricklers {results}")
    assert alive, f"the gateway exited with {proc.returncode}"
    assert during == 202, f"a normal request during the attack got {during}"
    assert_tricklers_refused_early(results)
    assert hwm_kb * 1024 < limit_bytes, f"peak RSS {hwm_kb} kB over the {limit_bytes // 1024} kB limit"
    assert payment(port) == 202


@pytest.mark.skipif(os.environ.get("E2E_STACK") == "docker",
                    reason="reads the local processes' /proc; containers get test_containers.py")
def test_in_handoff_mode_the_apis_and_the_gateway_stay_bounded_under_the_same_attack(stack):
    services = {s["name"]: s for s in localstack.services()}
    if services["gateway"]["environment"].get("GATEWAY_MODE") != "handoff":
        pytest.skip("the stack's gateway runs in proxy mode (GATEWAY_MODE)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = IDLE_SOCKETS + TRICKLERS + 1000
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {needed}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else hard, hard))
    names = ("gateway", "api1", "api2")
    pids = {n: localstack.process(n)["pid"] for n in names}
    port = localstack.gateway_port()
    try:
        assert payment(port) == 202
        during, results = attack(port)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    hwm = {n: vm_kb(pids[n], "VmHWM") for n in names if localstack.alive(pids[n])}
    print(f"VmHWM kB {hwm} with {IDLE_SOCKETS} idle sockets opened; tricklers {results}")
    assert set(hwm) == set(names), f"a process exited under the attack: {hwm}"
    assert during == 202, f"a normal request during the attack got {during}"
    assert_tricklers_refused_early(results)
    for n in names:
        limit = services[n]["memory"]
        assert hwm[n] * 1024 < limit, f"{n}: peak RSS {hwm[n]} kB over the {limit // 1024} kB limit"
    assert payment(port) == 202
