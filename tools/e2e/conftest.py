"""The end-to-end suite runs the real stack (compose.yaml's services as local processes, release
binaries, a real Valkey, the processor simulators) on ports of its own, once per session.
With E2E_STACK=docker it runs against the container stack instead (tools/compose: compose.yaml in
a Docker engine, gateway on 9999, simulators on 8001/8002), which it starts and removes itself."""

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE))

# A fixed folder, so that a run cleans up whatever an interrupted earlier run left behind.
os.environ.setdefault("STACK_RUN_DIR", str(HERE.parents[1] / "run" / "e2e"))
os.environ.setdefault("STACK_PORT", "19999")
os.environ.setdefault("STACK_SIM_PORTS", "18001,18002")
os.environ.pop("PROCESSOR_DEFAULT_URL", None)
os.environ.pop("PROCESSOR_FALLBACK_URL", None)

import localstack  # noqa: E402
from client import Client  # noqa: E402
from windows import WindowWatch  # noqa: E402

DOCKER = os.environ.get("E2E_STACK") == "docker"

TOKEN = {"X-Rinha-Token": localstack.TOKEN}


class Stack:
    """The local stack: the processes of localstack."""

    def __init__(self, sockets=None, gateway_port=None, processor_ports=None):
        sockets = sockets or localstack.run_dir() / "sockets"
        self.gateway = Client(f"127.0.0.1:{gateway_port or localstack.gateway_port()}")
        self.api1 = Client(f"unix:{sockets / 'api1.sock'}")
        self.api2 = Client(f"unix:{sockets / 'api2.sock'}")
        ports = processor_ports or {p: port for p, (port, _) in localstack.SIMULATORS.items()}
        self.processors = {p: Client(f"127.0.0.1:{port}") for p, port in ports.items()}
        self.valkey_sock = str(sockets / "valkey.sock")

    # Process control, the same calls for processes and containers.
    def signal(self, name, sig):
        localstack.signal_service(name, sig)

    def wait_exited(self, name, timeout=10):
        pid = localstack.process(name)["pid"]
        deadline = time.time() + timeout
        while localstack.alive(pid) and time.time() < deadline:
            time.sleep(0.02)

    def restart(self, name, wait=True):
        localstack.restart_service(name, wait=wait)

    def ensure_all_up(self):
        for entry in localstack.read_state()["processes"]:
            if not localstack.alive(entry["pid"]):
                localstack.restart_service(entry["name"])

    def admin(self, p, method, path, body=None):
        status, text = self.processors[p].request(method, path, body, headers=TOKEN)
        assert 200 <= status < 300, f"{p} {method} {path} -> {status} {text}"
        return text

    def set_processor(self, p, delay=None, failure=None):
        if delay is not None:
            self.admin(p, "PUT", "/admin/configurations/delay", {"delay": delay})
        if failure is not None:
            self.admin(p, "PUT", "/admin/configurations/failure", {"failure": failure})

    def processor_summary(self, p, query=""):
        return self.processors[p].get_json("/admin/payments-summary" + (("?" + query) if query else ""), TOKEN)

    def valkey(self, *args):
        out = subprocess.run([localstack.valkey_bin("valkey-cli"), "-s", self.valkey_sock, *args],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip()

    def pending(self):
        """Payments queued or held by a worker, not yet settled."""
        n = int(self.valkey("llen", "{rinha}:queue") or 0)
        for w in self.valkey("smembers", "{rinha}:workers").split():
            n += self.held_by(w)
        return n

    def in_flight(self, count, timeout=5):
        """Polls `count` (payments queued or held somewhere) until it is above zero and returns
        it, so that a fault struck right after lands on payments in flight; 0 if it never was."""
        deadline = time.time() + timeout
        while True:
            n = count()
            if n > 0 or time.time() > deadline:
                return n
            time.sleep(0.01)

    def held_by(self, worker):
        """Payments on the worker's processing list: claimed, not yet booked or handed back."""
        return int(self.valkey("llen", f"{{rinha}}:processing:{worker}") or 0)

    def settle(self, expected, timeout=60):
        """Waits until the stack has booked `expected` payments in all and nothing is pending."""
        deadline = time.time() + timeout
        s = None
        while time.time() < deadline:
            status, text = self.api1.request("GET", "/payments-summary")
            if status != 200:  # Valkey may be restarting
                time.sleep(0.2)
                continue
            s = json.loads(text, parse_float=Decimal)
            total = s["default"]["totalRequests"] + s["fallback"]["totalRequests"]
            if total >= expected and self.pending() == 0:
                return s
            time.sleep(0.2)
        raise AssertionError(f"not settled after {timeout} s: {s}, pending {self.pending()}, expected {expected}")

    def assert_agrees_with_processors(self, expected_count=None):
        ours = self.api2.summary()
        for p in ("default", "fallback"):
            theirs = self.processor_summary(p)
            assert ours[p]["totalRequests"] == theirs["totalRequests"], (p, ours, theirs)
            assert Decimal(ours[p]["totalAmount"]) == Decimal(theirs["totalAmount"]), (p, ours, theirs)
        if expected_count is not None:
            total = ours["default"]["totalRequests"] + ours["fallback"]["totalRequests"]
            assert total == expected_count, (ours, expected_count)
        return ours

    def window_watch(self, **kwargs):
        """The checker's windows compared while a test runs (a context manager)."""
        return WindowWatch(self.gateway, self.processors, TOKEN, **kwargs)


class ContainerStack(Stack):
    """The container stack: compose.yaml's containers and the simulators' containers. The tests
    reach the APIs and Valkey through the sockets volume's folder on the host."""

    def __init__(self):
        import containerstack
        self.cs = containerstack
        super().__init__(containerstack.volume_path("sockets"), containerstack.GATEWAY_PORT,
                         {p: port for p, (_, port, _) in containerstack.SIMULATORS.items()})

    def state(self, name):
        return self.cs.inspect(self.cs.container_name(name))["State"]

    def signal(self, name, sig):
        subprocess.run(["docker", "kill", "-s", sig.name, self.cs.container_name(name)], check=True,
                       capture_output=True)

    def wait_exited(self, name, timeout=10):
        deadline = time.time() + timeout
        while self.state(name)["Running"] and time.time() < deadline:
            time.sleep(0.05)

    def restart(self, name, wait=True):
        container = self.cs.container_name(name)
        deadline = time.time() + 30
        while not self.state(name)["Running"]:
            # A container the restart policy is bringing back refuses `docker start` meanwhile.
            subprocess.run(["docker", "start", container], capture_output=True)
            if time.time() > deadline:
                raise AssertionError(f"{container} does not start: {self.state(name)}")
            time.sleep(0.1)
        while wait and not self.ready(name):
            if time.time() > deadline:
                raise AssertionError(f"{container} runs but is not ready after 30 s")
            time.sleep(0.1)

    def ready(self, name):
        """What the local stack's readiness checks ask (compose.yaml has no health checks)."""
        try:
            if name == "valkey":
                return self.valkey("ping") == "PONG"
            if name in ("api1", "api2"):
                return getattr(self, name).request("GET", "/health")[0] == 200
            if name == "gateway":
                return self.cs.http_ok(self.cs.GATEWAY_PORT, "/payments-summary")
        except (OSError, subprocess.SubprocessError):
            return False
        return True  # a worker serves nothing: it is ready once it runs

    def ensure_all_up(self):
        for name in self.cs.containers():
            if not self.state(name)["Running"]:
                self.restart(name)


@pytest.fixture(scope="session")
def stack():
    if DOCKER:
        import containerstack
        try:
            containerstack.up()
        except containerstack.Unavailable as e:
            pytest.skip(f"the Docker engine cannot run here: {e}")
        except BaseException:
            containerstack.down(quiet=True)
            raise
        try:
            yield ContainerStack()
        finally:
            # E2E_KEEP=1 leaves the containers up for a look at their logs (tools/compose down).
            if os.environ.get("E2E_KEEP") != "1":
                containerstack.down(quiet=True)
        return
    localstack.up(gateway=os.environ.get("E2E_GATEWAY", "ours"))
    try:
        yield Stack()
    finally:
        localstack.down(quiet=True)


@pytest.fixture()
def clean(stack):
    """Both processors healthy and empty, the backend empty, every process up."""
    stack.ensure_all_up()
    for p in ("default", "fallback"):
        stack.set_processor(p, delay=0, failure=False)
    # What an earlier test left in flight finishes first: a purge lets payments already out at a
    # processor finish and be booked, which would land in this test's counts.
    deadline = time.time() + 30
    while stack.pending() > 0 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)
    for p in ("default", "fallback"):
        stack.admin(p, "POST", "/admin/purge-payments")
    status, _ = stack.api1.request("POST", "/purge-payments")
    assert status == 200
    return stack
