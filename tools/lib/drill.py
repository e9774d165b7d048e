"""The fault drill's engine (tools/drill, tools/e2e/test_drills.py).

Under a steady open-loop load of POST /payments through the gateway (fresh UUIDs, amounts with
cents, each payment sent again with the same id until a 2xx, as a real client does), it performs
each fault in turn: SIGKILL of a worker, an API, the gateway or Valkey followed by a start of the
same process (compose's `restart: unless-stopped`), or SIGSTOP of Valkey for a while then SIGCONT.
Every second it compares the backend's summary with both processors' admin summaries over the
checker's window [now-15 s, now-2 s], counts and amounts. A fault waits until payments are in flight
where it strikes (the killed worker's processing list, the client's requests out, Valkey's queue) and
records how many there were. After the load it lets the stack settle and looks up every payment in
both processors: acknowledged but in neither (lost), in both (sent twice), amounts.

The report is a dict (JSON-ready); drill_report.py prints it as a table.
"""

# One file of ~580 lines: the load, the per-second checker, the faults, the settle and the report all
# read and write one Drill's state (payments, their records, timings); split, they would pass it around.

import asyncio
import os
import random
import signal
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import localstack
from drill_net import HTTPError, HTTPPool, RESP, RESPError

TOKEN = {"X-Rinha-Token": localstack.TOKEN}
PROCESSORS = ("default", "fallback")
KILLS = ("worker1", "worker2", "api1", "api2", "gateway", "valkey")
FAULTS = KILLS + ("valkey-stop",)
# Not in the default list: a worker frozen longer than its heartbeat's 3 s (a stalled container,
# CPU starvation) is taken for dead while it still holds its payments and resumes afterwards.
STOPS = ("valkey-stop", "worker1-stop", "worker2-stop")
ALL_FAULTS = FAULTS + ("worker1-stop", "worker2-stop")
CONSISTENT_WITHIN_S = 2.0
CHECK_TIMEOUT_S = 1.5  # the official checker's timeout on each summary call


@dataclass
class Config:
    rate: float = 200.0  # payments per second (new ids; retries come on top)
    warmup_s: float = 5.0  # load before the first fault
    observe_s: float = 10.0  # from a fault to the next one (more if the windows still differ)
    faults: tuple = FAULTS
    rounds: int = 1
    stop_s: float = 5.0  # how long Valkey stays SIGSTOPped
    check_interval_s: float = 1.0
    window_from_s: float = 15.0
    window_to_s: float = 2.0
    processor_delay_ms: tuple = (30, 0)  # (default, fallback): keeps payments in flight at a worker
    connections: int = 64
    request_timeout_s: float = 3.0
    retry_for_s: float = 30.0  # a client gives up on a payment this long after its first try
    inflight_wait_s: float = 5.0  # longest wait for payments in flight before striking anyway
    consistent_wait_s: float = 30.0  # longest extra wait for consistent windows before the next fault
    settle_s: float = 90.0
    settle_max_s: float = 900.0  # while the backlog still goes down
    lookup_limit: int = 0  # look up at most this many payments in the processors (0: all)
    key_prefix: str = ""  # Valkey key prefix; "" = the workers' KEY_PREFIX (default rinha)
    seed: int = 0


SCALES = {
    # CI: a few hundred payments a second for about a minute and a half of faults.
    "ci": dict(rate=200.0, warmup_s=5.0, observe_s=10.0, rounds=1),
    # The final's ~300 req/s (its average; 600 at its peak) for about five minutes, each fault twice.
    "official": dict(rate=300.0, warmup_s=10.0, observe_s=20.0, rounds=2, settle_s=120.0, faults=ALL_FAULTS),
}


@dataclass
class Payment:
    id: str
    cents: int
    first_t: float  # seconds since the drill's start
    attempts: int = 0
    statuses: dict = field(default_factory=dict)  # status (0: no answer) -> times
    acked_t: float = None
    done: bool = False
    sending: tuple = None  # (attempt, local port of its connection) while an attempt is out
    attempt_status: dict = field(default_factory=dict)  # attempt -> its status (0: no answer)


def handoff_mode():
    """Whether the stack's gateway hands connections over (compose.yaml's GATEWAY_MODE)."""
    gateway = next((s for s in localstack.services() if s["name"] == "gateway"), {"environment": {}})
    return gateway["environment"].get("GATEWAY_MODE") == "handoff"


def client_ports_held_by(pid):
    """The peer ports of the TCP connections process `pid` holds (its sockets' inodes looked up in
    /proc/net/tcp and tcp6): for a server, its clients' local ports."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return set()
    for name in names:
        try:
            target = os.readlink(f"{fd_dir}/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[9] in inodes:
                        ports.add(int(cols[2].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


def cents_text(c):
    return f"{c // 100}.{c % 100:02d}"


def to_cents(amount):
    return int((Decimal(str(amount)) * 100).to_integral_value())


def iso_ms(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def side_totals(summary):
    """{processor: (count, cents)} of a summary JSON ({default:{totalRequests,totalAmount},...})."""
    return {p: (int(summary[p]["totalRequests"]), to_cents(summary[p]["totalAmount"])) for p in PROCESSORS}


class Drill:
    def __init__(self, config: Config, log=print):
        self.cfg = config
        self.log = log
        self.rng = random.Random(config.seed or None)
        self.payments = {}
        self.out = 0  # requests sent and not answered yet
        self.tasks = set()
        self.checks = []
        self.faults = []
        self.errors = []
        self.client_failures = []  # (t, kind) of every POST without a 2xx
        self.stopping = False
        self.t0 = time.time()
        self.handoff = handoff_mode()

    def now(self):
        return time.time() - self.t0

    # ------------------------------------------------------------ setup

    def _connect(self):
        port = localstack.gateway_port()
        self.gateway = HTTPPool("127.0.0.1", port, self.cfg.connections)
        self.backend = HTTPPool("127.0.0.1", port, 4)  # the checker's own connections
        self.procs = {p: HTTPPool("127.0.0.1", port_, 4) for p, (port_, _) in localstack.SIMULATORS.items()}
        self.valkey = RESP(str(localstack.run_dir() / "sockets" / "valkey.sock"))
        workers = [p for p in localstack.read_state()["processes"] if p["name"].startswith("worker")]
        self.workers = {p["name"]: (p.get("env") or {}).get("WORKER_ID", p["name"]) for p in workers}
        prefix = self.cfg.key_prefix or next(
            ((p.get("env") or {}).get("KEY_PREFIX") for p in workers if (p.get("env") or {}).get("KEY_PREFIX")), "rinha")
        self.prefix = prefix

    async def _admin(self, p, method, path, body=None):
        import json
        status, text = await self.procs[p].request(method, path, json.dumps(body).encode() if body else b"", TOKEN)
        if not 200 <= status < 300:
            raise RuntimeError(f"{p} {method} {path} -> {status} {text[:200]}")

    async def _prepare(self):
        """Both processors empty, with the drill's delays, not failing; the backend empty."""
        for p, delay in zip(PROCESSORS, self.cfg.processor_delay_ms):
            await self._admin(p, "PUT", "/admin/configurations/failure", {"failure": False})
            await self._admin(p, "PUT", "/admin/configurations/delay", {"delay": delay})
            await self._admin(p, "POST", "/admin/purge-payments")
        status, _ = await self.backend.request("POST", "/purge-payments", b"", timeout=5)
        if status != 200:
            raise RuntimeError(f"POST /purge-payments -> {status}")
        # A hash-tagged layout ({rinha}:queue) if that is what the workers use.
        for cand in (self.prefix, "{%s}" % self.prefix):
            try:
                if await self.valkey.call("EXISTS", f"{cand}:workers") == 1:
                    self.prefix = cand
                    break
            except RESPError:
                pass

    # ------------------------------------------------------------ load

    async def _pay(self, pay: Payment):
        body = f'{{"correlationId":"{pay.id}","amount":{cents_text(pay.cents)}}}'.encode()
        give_up = pay.first_t + self.cfg.retry_for_s

        def sent(port):
            self.out += 1
            sent.counted = True
            pay.sending = (pay.attempts, port)
        while True:
            pay.attempts += 1
            sent.counted = False
            try:
                status, _ = await self.gateway.request("POST", "/payments", body, timeout=self.cfg.request_timeout_s,
                                                       on_sent=sent)
            except HTTPError as e:
                status = 0
                self.client_failures.append((self.now(), str(e)))
            finally:
                if sent.counted:
                    self.out -= 1
                pay.sending = None
            pay.attempt_status[pay.attempts] = status
            pay.statuses[status] = pay.statuses.get(status, 0) + 1
            if status and not 200 <= status < 300:
                self.client_failures.append((self.now(), f"HTTP {status}"))
            if 200 <= status < 300:
                pay.acked_t = self.now()
                break
            if 400 <= status < 500 and status not in (408, 429):
                break  # refused for good (a bug for these bodies): reported per status
            if self.now() > give_up or (self.stopping and self.now() > self.stop_t + 10):
                break
            await asyncio.sleep(0.2)
        pay.done = True

    async def _load(self):
        interval = 1.0 / self.cfg.rate
        due = time.monotonic()
        while not self.stopping:
            now = time.monotonic()
            while due <= now:
                pay = Payment(str(uuid.uuid4()), self.rng.randint(1, 99999), self.now())
                self.payments[pay.id] = pay
                task = asyncio.ensure_future(self._pay(pay))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                due += interval
            await asyncio.sleep(min(max(due - time.monotonic(), 0), 0.01))

    # ------------------------------------------------------------ Valkey's view

    async def _pending(self, timeout=0.3):
        """{'queue': n, 'processing': {worker: n}} or None when Valkey does not answer."""
        cmds = [("LLEN", f"{self.prefix}:queue")] + [("LLEN", f"{self.prefix}:processing:{w}") for w in self.workers.values()]
        try:
            replies = await self.valkey.pipeline(cmds, timeout)
        except RESPError:
            return None
        if any(isinstance(r, RESPError) for r in replies):
            return None
        return {"queue": replies[0], "processing": dict(zip(self.workers, replies[1:]))}

    # ------------------------------------------------------------ the checker

    async def _check(self):
        t = self.now()
        now_ms = int(time.time() * 1000)
        frm, to = iso_ms(now_ms - int(self.cfg.window_from_s * 1000)), iso_ms(now_ms - int(self.cfg.window_to_s * 1000))
        q = f"?from={frm}&to={to}"
        ours, d, f, pending = await asyncio.gather(
            self.backend.get_json("/payments-summary" + q, timeout=CHECK_TIMEOUT_S),
            self.procs["default"].get_json("/admin/payments-summary" + q, TOKEN, timeout=CHECK_TIMEOUT_S),
            self.procs["fallback"].get_json("/admin/payments-summary" + q, TOKEN, timeout=CHECK_TIMEOUT_S),
            self._pending())
        rec = {"t": round(t, 3), "from": frm, "to": to, "answered": None not in (ours, d, f),
               "pending": pending, "out": self.out}
        try:
            self._compare(rec, ours, d, f)
        except (KeyError, TypeError, ValueError, ArithmeticError) as e:  # an answer of the wrong shape
            rec.update(answered=False, match=False, missing=[f"unreadable: {type(e).__name__}"])
        self.checks.append(rec)

    @staticmethod
    def _compare(rec, ours, d, f):
        if rec["answered"]:
            mine = side_totals(ours)
            theirs = {"default": (int(d["totalRequests"]), to_cents(d["totalAmount"])),
                      "fallback": (int(f["totalRequests"]), to_cents(f["totalAmount"]))}
            rec["ours"], rec["processors"] = mine, theirs
            rec["match"] = mine == theirs
            rec["count_diff"] = sum(abs(mine[p][0] - theirs[p][0]) for p in PROCESSORS)
            rec["cents_diff"] = sum(abs(mine[p][1] - theirs[p][1]) for p in PROCESSORS)
        else:
            rec["match"] = False
            rec["missing"] = [n for n, v in (("backend", ours), ("default", d), ("fallback", f)) if v is None]

    async def _checker(self):
        step = self.cfg.check_interval_s
        nxt = time.monotonic()
        pending = set()
        while not self.checker_stop:
            # Started on a fixed cadence, not after the previous one: a stalled call must not delay the next.
            task = asyncio.ensure_future(self._check())
            pending.add(task)
            task.add_done_callback(pending.discard)
            nxt += step
            await asyncio.sleep(max(nxt - time.monotonic(), 0))
        if pending:
            await asyncio.wait(pending, timeout=5)

    # ------------------------------------------------------------ faults

    def _requests_out(self, ports=None):
        """(payment, attempt) of each request out, only those on connections from `ports` if given."""
        return [(p, p.sending[0]) for p in list(self.payments.values())
                if p.sending is not None and (ports is None or p.sending[1] in ports)]

    async def _inflight(self, fault):
        """-> (relevant count, detail, requests struck): what is in flight where `fault` strikes.
        With the gateway handing connections over, an API holds its clients' TCP connections, so
        the requests at a killed API are those on the connections its process holds; the gateway
        holds no request, and its kill strikes the requests on connections it handed over (which
        must go on being answered). Behind the proxy, every request out is at the gateway and one
        of the APIs, without telling which."""
        pending = await self._pending(timeout=0.2)
        detail = {"client_out": self.out, "valkey": pending}
        struck = []
        if fault.startswith("worker"):
            rel = pending["processing"].get(fault.removesuffix("-stop"), 0) if pending else 0
        elif fault.startswith("valkey"):
            rel = self.out + (pending["queue"] + sum(pending["processing"].values()) if pending else 0)
        elif fault.startswith("api") and self.handoff:
            ports = client_ports_held_by(localstack.process(fault.removesuffix("-stop"))["pid"])
            struck = self._requests_out(ports)
            rel = len(struck)
            detail["at_this_api"] = rel
        else:
            struck = self._requests_out()
            rel = len(struck)
        return rel, detail, struck

    async def _fault(self, fault, round_no):
        rec = {"fault": fault, "round": round_no}
        stop = fault in STOPS
        name = fault.removesuffix("-stop")
        t_wait = self.now()
        while True:
            rel, detail, struck = await self._inflight(fault)
            if rel > 0 or self.now() - t_wait > self.cfg.inflight_wait_s:
                break
            await asyncio.sleep(0.002)
        pid = localstack.process(name)["pid"]
        rec["t"] = round(self.now(), 3)
        os.kill(pid, signal.SIGSTOP if stop else signal.SIGKILL)
        rec["in_flight"] = rel
        rec["in_flight_detail"] = detail
        rec["waited_for_in_flight_s"] = round(rec["t"] - t_wait, 3)
        self.log(f"t={rec['t']:.1f}s {fault}: {'SIGSTOP' if stop else 'SIGKILL'} pid {pid} "
                 f"with {rel} in flight ({detail})")
        try:
            if stop:
                await asyncio.sleep(self.cfg.stop_s)
                os.kill(pid, signal.SIGCONT)
                rec["resumed_s"] = round(self.now() - rec["t"], 3)
            else:
                while localstack.alive(pid):
                    await asyncio.sleep(0.005)
                await asyncio.to_thread(localstack.restart_service, name, True)
                rec["ready_s"] = round(self.now() - rec["t"], 3)
        except Exception as e:  # noqa: BLE001  (recorded; the drill goes on)
            rec["error"] = f"{type(e).__name__}: {e}"
            self.errors.append(f"{fault}: {rec['error']}")
        self.faults.append(rec)
        # Observe; then, if the windows still differ, wait (bounded) for them to agree again.
        end = rec["t"] + self.cfg.observe_s
        while self.now() < end:
            await asyncio.sleep(0.1)
        # The requests out when it struck that were answered 2xx all the same (those still out
        # after the observation are not counted).
        rec["struck_answered"] = sum(1 for p, a in struck if 200 <= p.attempt_status.get(a, 0) < 300)
        extra_end = self.now() + self.cfg.consistent_wait_s
        while self.now() < extra_end and not (self.checks and self.checks[-1]["match"]):
            await asyncio.sleep(0.1)

    # ------------------------------------------------------------ after the load

    async def _settle(self):
        """Waits until our unbounded summary equals the processors' and nothing is pending, 3 polls in a
        row: for settle_s, and longer (up to settle_max_s) while a backlog is still going down."""
        t = time.monotonic()
        stable, last = 0, None
        best, best_t = None, t  # the smallest backlog seen, and when
        ours = d = f = pending = None
        while True:
            elapsed = time.monotonic() - t
            draining = time.monotonic() - best_t < 15
            if elapsed > self.cfg.settle_max_s or (elapsed > self.cfg.settle_s and not draining):
                break
            ours = await self.backend.get_json("/payments-summary", timeout=3)
            d = await self.procs["default"].get_json("/admin/payments-summary", TOKEN, timeout=3)
            f = await self.procs["fallback"].get_json("/admin/payments-summary", TOKEN, timeout=3)
            pending = await self._pending()
            if pending is not None:
                backlog = pending["queue"] + sum(pending["processing"].values())
                if best is None or backlog < best:
                    best, best_t = backlog, time.monotonic()
            if None not in (ours, d, f) and pending is not None:
                mine = side_totals(ours)
                theirs = {"default": (int(d["totalRequests"]), to_cents(d["totalAmount"])),
                          "fallback": (int(f["totalRequests"]), to_cents(f["totalAmount"]))}
                key = (tuple(mine.items()), tuple(theirs.items()))
                quiet = pending["queue"] == 0 and not any(pending["processing"].values())
                stable = stable + 1 if mine == theirs and quiet and key == last else 0
                last = key
                if stable >= 3:
                    return {"settled": True, "seconds": round(time.monotonic() - t, 1), "ours": mine,
                            "processors": theirs}
            await asyncio.sleep(0.5)
        return {"settled": False, "seconds": round(time.monotonic() - t, 1),
                "ours": side_totals(ours) if ours else None,
                "processors": {"default": (int(d["totalRequests"]), to_cents(d["totalAmount"])) if d else None,
                               "fallback": (int(f["totalRequests"]), to_cents(f["totalAmount"])) if f else None},
                "pending": pending}

    async def _lookup(self, ids):
        """-> {id: {processor: cents or None}} from each processor's GET /payments/{id}."""
        pools = {p: HTTPPool("127.0.0.1", port, 24) for p, (port, _) in localstack.SIMULATORS.items()}
        found = {}
        failures = []

        async def one(cid):
            row = {}
            for p in PROCESSORS:
                for _ in range(3):
                    try:
                        status, data = await pools[p].request("GET", f"/payments/{cid}", timeout=5)
                    except HTTPError:
                        continue
                    if status == 200:
                        import json
                        row[p] = to_cents(json.loads(data, parse_float=Decimal)["amount"])
                    elif status == 404:
                        row[p] = None
                    break
                else:
                    failures.append(cid)
            found[cid] = row

        sem = asyncio.Semaphore(48)

        async def bounded(cid):
            async with sem:
                await one(cid)
        await asyncio.gather(*(bounded(c) for c in ids))
        for pool in pools.values():
            pool.close()
        return found, failures

    # ------------------------------------------------------------ the run

    async def run(self):
        self._connect()
        await self._prepare()
        self.t0 = time.time()
        self.checker_stop = False
        load = asyncio.ensure_future(self._load())
        checker = asyncio.ensure_future(self._checker())
        started = time.time()
        try:
            await asyncio.sleep(self.cfg.warmup_s)
            for r in range(self.cfg.rounds):
                for fault in self.cfg.faults:
                    await self._fault(fault, r + 1)
        finally:
            self.stopping = True
            self.stop_t = self.now()
            await load
            if self.tasks:
                await asyncio.wait(set(self.tasks), timeout=self.cfg.retry_for_s + 15)
            # A few more windows past the load: what was in flight at its end must match too.
            await asyncio.sleep(self.cfg.window_to_s + 1)
            self.checker_stop = True
            await checker
        load_s = time.time() - started
        settle = await self._settle()
        pays = list(self.payments.values())
        lookup_set = pays
        if self.cfg.lookup_limit and len(pays) > self.cfg.lookup_limit:
            lookup_set = self.rng.sample(pays, self.cfg.lookup_limit)
        found, lookup_failures = await self._lookup([p.id for p in lookup_set])
        self.gateway.close()
        self.backend.close()
        for pool in self.procs.values():
            pool.close()
        self.valkey.close()
        return self._report(settle, found, lookup_failures, len(lookup_set), load_s)

    # ------------------------------------------------------------ the report

    def _period(self, t, lead=0.0):
        """The fault whose period holds time t (from its strike, less `lead`, to the next one's), or None."""
        owner = None
        for i, f in enumerate(self.faults):
            if f["t"] - lead <= t:
                owner = i
        return owner

    def _report(self, settle, found, lookup_failures, looked_up, load_s):
        cfg = self.cfg
        self.checks.sort(key=lambda c: c["t"])  # appended as they finish
        pays = list(self.payments.values())
        acked = [p for p in pays if p.acked_t is not None]
        unconfirmed = [p for p in pays if p.acked_t is None and any(s == 0 or s >= 500 for s in p.statuses)]
        refused = [p for p in pays if p.acked_t is None and p not in unconfirmed]
        status_counts = {}
        for p in pays:
            for s, n in p.statuses.items():
                status_counts[str(s)] = status_counts.get(str(s), 0) + n

        lost, both, wrong_amount, unacked_booked = [], [], [], []
        for p in pays:
            row = found.get(p.id)
            if row is None:
                continue
            where = [q for q in PROCESSORS if row.get(q) is not None]
            if len(where) == 2:
                both.append(p)
            if p.acked_t is not None and not where:
                lost.append(p)
            if any(row[q] != p.cents for q in where):
                wrong_amount.append(p)
            if p.acked_t is None and where:
                unacked_booked.append(p)

        # Our totals against the processors' after settling: above = booked twice or never sent,
        # below = accepted by a processor and never booked.
        ours, theirs = settle.get("ours"), settle.get("processors")
        over = under = None
        if ours and theirs and all(theirs.values()):
            over = {p: [max(ours[p][0] - theirs[p][0], 0), max(ours[p][1] - theirs[p][1], 0)] for p in PROCESSORS}
            under = {p: [max(theirs[p][0] - ours[p][0], 0), max(theirs[p][1] - ours[p][1], 0)] for p in PROCESSORS}
        processor_count = sum(v[0] for v in theirs.values()) if theirs and all(theirs.values()) else None
        found_count = sum(1 for r in found.values() for q in PROCESSORS if r.get(q) is not None)
        double_booked = sum(v[0] for v in over.values()) if over else None
        never_booked = sum(v[0] for v in under.values()) if under else None

        # Per fault: checks of its period, runs of inconsistent windows, and what got lost there.
        periods = [[] for _ in self.faults]
        baseline = []
        for c in self.checks:
            # A check still waiting for its answers (1.5 s at most) when the fault struck is the fault's.
            i = self._period(c["t"], lead=CHECK_TIMEOUT_S)
            (baseline if i is None else periods[i]).append(c)
        rows = []
        for i, f in enumerate(self.faults):
            row = self._fault_row(f, periods[i], [p for p in lost if self._period(p.first_t) == i],
                                  [p for p in both if self._period(p.first_t) == i])
            kinds = {}
            for t, kind in self.client_failures:
                if self._period(t) == i:
                    kinds[kind] = kinds.get(kind, 0) + 1
            row["client_failures"] = kinds
            row["max_client_out"] = max((c["out"] for c in periods[i]), default=0)
            rows.append(row)
        base_bad = [c for c in baseline if not c["match"]]

        ok_rules = {
            "lost == 0": not lost,
            "sent to both processors == 0": not both,
            "double-booked (our totals above the processors') == 0": double_booked == 0,
            "accepted by a processor and not booked == 0": never_booked == 0,
            "amounts exact": not wrong_amount,
            "settled (our summary == processors', nothing pending)": settle["settled"],
            "every fault struck with payments in flight": all(r["in_flight"] > 0 for r in rows),
            # Handed over, a connection outlives the gateway: requests out on one when it is
            # killed are answered by their API.
            "a killed gateway's handed-over connections kept answering": not self.handoff or all(
                r["struck_answered"] > 0 for r in rows if r["fault"] == "gateway"),
            "no fault failed to restart": not self.errors,
            "every payment looked up": not lookup_failures,
        }
        slow = [r for r in rows if r["judged_s"] is None or r["judged_s"] > CONSISTENT_WITHIN_S]
        return {
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.__dict__.items()},
            "load_seconds": round(load_s, 1),
            "payments": {"sent": len(pays), "acknowledged": len(acked), "unconfirmed": len(unconfirmed),
                         "refused": len(refused), "requests": sum(p.attempts for p in pays),
                         "statuses": status_counts, "unacknowledged_but_booked": len(unacked_booked)},
            "settle": settle,
            "lookup": {"looked_up": looked_up, "found_in_processors": found_count,
                       "processors_total": processor_count, "failures": len(lookup_failures)},
            "lost": len(lost), "lost_ids": [p.id for p in lost[:50]],
            "sent_to_both": len(both), "sent_to_both_ids": [p.id for p in both[:50]],
            "wrong_amount": len(wrong_amount), "wrong_amount_ids": [p.id for p in wrong_amount[:50]],
            "double_booked": double_booked, "over": over,
            "never_booked": never_booked, "under": under,
            "faults": rows,
            "baseline": {"checks": len(baseline), "inconsistent": len(base_bad),
                         "inconsistent_at": [c["t"] for c in base_bad]},
            "checks": self.checks,
            "errors": self.errors,
            "rules": ok_rules,
            "ok": all(ok_rules.values()),
            "consistent_within_s": CONSISTENT_WITHIN_S,
            "consistency_target_met": not slow and not base_bad,
            "slower_than_target": [f"{r['fault']}#{r['round']}" for r in slow],
        }

    def _fault_row(self, f, checks, lost, both):
        """Runs of inconsistent windows after a fault: each as [start, end] seconds from the strike,
        `end` being the first consistent check after it (None if none came in the period)."""
        runs, cur = [], None
        for c in checks:
            rel = round(c["t"] - f["t"], 2)
            if not c["match"]:
                if cur is None:
                    cur = {"from_s": rel, "to_s": None, "checks": 0, "unanswered": 0, "unanswered_by": [],
                           "max_count_diff": 0, "max_cents_diff": 0}
                    runs.append(cur)
                cur["checks"] += 1
                if not c["answered"]:
                    cur["unanswered"] += 1
                    # The backend's silence is the stack's; a processor's is the test machine's.
                    cur["unanswered_by"] = sorted(set(cur["unanswered_by"]) | set(c.get("missing", [])))
                else:
                    cur["max_count_diff"] = max(cur["max_count_diff"], c["count_diff"])
                    cur["max_cents_diff"] = max(cur["max_cents_diff"], c["cents_diff"])
            elif cur is not None:
                cur["to_s"] = rel
                cur = None
        consistent = runs[-1]["to_s"] if runs else 0.0
        back = f.get("ready_s") if f.get("ready_s") is not None else f.get("resumed_s")
        since_back = None if consistent is None or back is None else round(max(consistent - back, 0.0), 2)
        # A kill is judged from the strike; a stall from its end (SIGCONT), since it lasts by design.
        judged = since_back if f["fault"] in STOPS else consistent
        return {
            "fault": f["fault"], "round": f["round"], "t": f["t"], "in_flight": f["in_flight"],
            "in_flight_detail": f["in_flight_detail"], "waited_for_in_flight_s": f["waited_for_in_flight_s"],
            "struck_answered": f.get("struck_answered"),
            "ready_s": f.get("ready_s"), "resumed_s": f.get("resumed_s"), "error": f.get("error"),
            "checks": len(checks), "inconsistent": sum(1 for c in checks if not c["match"]),
            "unanswered": sum(1 for c in checks if not c["answered"]),
            "runs": runs, "consistent_after_s": consistent, "consistent_after_back_s": since_back,
            "judged_s": judged,
            "lost": len(lost), "sent_to_both": len(both),
        }


def run(config: Config, log=print):
    return asyncio.run(Drill(config, log).run())
