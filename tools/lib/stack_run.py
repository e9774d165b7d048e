"""Starts and stops the local stack: the processor simulators (unless processor URLs are given),
then every compose.yaml service in start order, each in its own cgroup and waited for through its
health check; stops them all (tools/stack down), or one, and starts one again as it was."""

import os
import shutil

import alt_gateways
from build import build_release
from cgroups import Cgroups
from compose_file import services
from compose_local import translate
from deps import ensure_python_deps, ensure_system_deps
from procs import alive, command_ok, logger, parse_cpu_list, spawn, stop_group, tcp_open, wait_for
from stack_config import ROOT, SIMULATORS, TOKEN, build_dir, gateway_port, processor_urls, run_dir
from stack_state import process, read_state, record, state_file, write_state

log = logger("stack")


def start(name, argv, env, procs=(), cpus=None):
    """Starts one process of the stack, its output appended to run/logs/<name>.log. -> pid."""
    return spawn(argv, env, run_dir() / "logs" / f"{name}.log", procs, cpus, cwd=ROOT).pid


def wait_ready(name, check, pid, timeout=30):
    wait_for(name, check, pid, timeout=timeout, interval=0.1)


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
    ensure_system_deps()  # jemalloc for Valkey, even when the binaries need no build
    build_release()
    run = run_dir()
    (run / "logs").mkdir(parents=True, exist_ok=True)
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

    urls, simulate = processor_urls()
    if simulate:
        pids = {}
        for proc, (port, fee) in SIMULATORS.items():
            name = f"processor-{proc}"
            argv = [str(build_dir() / "processor-simulator"), "--host", "127.0.0.1", "--port", str(port),
                    "--fee", fee, "--token", TOKEN]
            pids[proc] = start(name, argv, {}, cpus=tools_cpus)
            record(state, name, pids[proc], argv, "simulator", cpus=tools_cpus)
        for proc, (port, _) in SIMULATORS.items():
            wait_ready(f"processor-{proc}", lambda port=port: tcp_open(port), pids[proc])
    else:
        log(f"using processors at {urls['default']} and {urls['fallback']}")

    for svc in svcs:
        name = svc["name"]
        if only and name not in only:
            continue
        if name == "gateway" and gateway and gateway != "ours":
            if gateway != "none":
                pid, argv = alt_gateways.start_alternative(gateway, run, svcs, gateway_port(), stack_cpus)
                record(state, name, pid, argv, gateway)
                wait_ready(name, lambda: tcp_open(gateway_port()), pid)
            continue
        argv, env, hc = translate(svc, run)
        if extra_env:
            env.update(extra_env.get(name, {}))
        procs = cg.create(name, svc["cpus"], svc["memory"], svc["cpu_shares"])
        pid = start(name, argv, env, procs, stack_cpus)
        record(state, name, pid, argv, "service", env, procs, hc, stack_cpus)
        if hc:
            wait_ready(name, lambda hc=hc: command_ok(hc), pid)
    return state


def signal_service(name, sig):
    """Sends a signal to one process of the running stack (tests: SIGKILL a worker...)."""
    os.kill(process(name)["pid"], sig)


def restart_service(name, wait=True):
    """Starts a stopped or killed process of the running stack again, as it was started."""
    state = read_state()
    entry = next(p for p in state["processes"] if p["name"] == name)
    if alive(entry["pid"]):
        stop_group(entry["pid"])
    pid = start(name, entry["argv"], entry.get("env") or {}, entry.get("procs") or (),
                set(entry["cpus"]) if entry.get("cpus") else None)
    entry["pid"] = pid
    write_state(state)
    if wait and entry.get("health"):
        wait_ready(name, lambda: command_ok(entry["health"]), pid)
    return pid


def down(quiet=False):
    state = read_state()
    procs = state.get("processes", [])
    for p in reversed(procs):
        if alive(p["pid"]):
            if not quiet:
                log(f"stopping {p['name']} (pid {p['pid']})")
            stop_group(p["pid"])
    Cgroups().remove_all()
    if state_file().exists():
        write_state({"processes": []})
    if not quiet:
        log("stopped")


def busy_ports(simulators=True):
    """The stack's ports (the gateway's; the simulators' too) that something already listens on."""
    ports = [gateway_port()] + ([port for port, _ in SIMULATORS.values()] if simulators else [])
    return [p for p in ports if tcp_open(p)]
