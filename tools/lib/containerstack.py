# One job: the compose stack itself (up, down, the simulators' containers, tools/bench --docker's
# hooks, the tools/compose command), and the one name the other tools import.
"""Runs compose.yaml for real in a Docker engine: installs the engine and the Compose plugin when
missing, starts dockerd, makes the base images locally (no container registry is reachable here),
builds the app image from the host's release binaries (Dockerfile.prebuilt), starts the two
processor simulators as containers on the external network `payment-processor`, then runs
`docker compose up` and waits until the gateway answers the summary (compose.yaml has no health
checks: README, "Health checks").

Overrides go only through the variables compose.yaml already reads: RINHA_IMAGE, VALKEY_IMAGE,
GATEWAY_STRATEGY. Used by tools/compose, tools/test (container tests), tools/bench --docker.
"""

# tools/compose, tools/bench --docker and the container tests import this one name; the work is
# done in modules of one job each, re-exported here:
#
#   container_config   names and places: project, app image, network, simulators, ports, run/compose
#   docker_engine      dockerd, the docker CLI and the Compose plugin, installed and started
#   container_images   the Debian base, Valkey and app images, made on this machine
#   container_status   containers, inspect, volumes, cgroup memory and CPU, the status table
#   containerstack     (this file) up, down, the simulators, tools/bench --docker, the command

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import localstack  # noqa: E402
from container_config import (APP_IMAGE, GATEWAY_PORT, NETWORK, PROJECT, ROOT, SIMULATORS,  # noqa: E402,F401
                              STATE, TOKEN, app_image)
from container_images import (BASE_IMAGE, BINARIES, STAGE, SUITE, VALKEY_DOCKERFILE,  # noqa: E402,F401
                              build_app_image, debian_mirror, ensure_base_image, ensure_valkey_image,
                              prepare, stage_binaries, valkey_image)
from container_status import (bench_rows, cgroup_memory, container_name, containers, cpu_stat,  # noqa: E402,F401
                              inspect, print_status, status_rows, volume_path)
from docker_engine import (COMPOSE_PLUGIN, Unavailable, apt_install, daemon_ok, docker_build,  # noqa: E402,F401
                           ensure_daemon, ensure_engine, image_exists, install_compose_plugin, out, run)
from procs import logger, wait_for  # noqa: E402

log = logger("compose")


def compose_env():
    return {**os.environ, "RINHA_IMAGE": app_image(), "VALKEY_IMAGE": valkey_image()}


def compose_env_light():
    """For `down`: compose needs the image variables set, not the images made."""
    return {**os.environ, "RINHA_IMAGE": app_image(), "VALKEY_IMAGE": os.environ.get("VALKEY_IMAGE") or "unused:0"}


def compose_argv(*args):
    return ["docker", "compose", "-f", str(ROOT / "compose.yaml"), "-p", PROJECT, *args]


def compose(*args, check=True, capture=False):
    if capture:
        return subprocess.run(compose_argv(*args), env=compose_env(), capture_output=True, text=True, check=check)
    return subprocess.run(compose_argv(*args), env=compose_env(), check=check)


def http_ok(port, path, headers=None):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        r.read()
        c.close()
        return 200 <= r.status < 300
    except (OSError, Exception):
        return False


def wait_answers(what, port, path, headers=None, timeout=30):
    """Until GET path on 127.0.0.1:port answers 2xx; RuntimeError `<what> does not answer on ...`."""
    wait_for(what, lambda: http_ok(port, path, headers), timeout=timeout, interval=0.2,
             error=lambda _: RuntimeError(f"{what} does not answer on 127.0.0.1:{port}"))


def start_simulators():
    if out(["docker", "network", "inspect", NETWORK]).returncode != 0:
        run(["docker", "network", "create", "--driver", "bridge", NETWORK], stdout=subprocess.DEVNULL)
    for proc, (name, port, fee) in SIMULATORS.items():
        run(["docker", "rm", "-f", name], quiet=True, check=False)
        run(["docker", "run", "-d", "--name", name, "--network", NETWORK, "-p", f"127.0.0.1:{port}:8080",
             "--label", f"com.rinha-swift.role=processor-{proc}", app_image(),
             "processor-simulator", "--host", "0.0.0.0", "--port", "8080", "--fee", fee, "--token", TOKEN],
            stdout=subprocess.DEVNULL)
    for proc, (name, port, _) in SIMULATORS.items():
        # Not /payments/service-health: its rate limit would then refuse the workers' first poll.
        wait_answers(name, port, "/admin/payments-summary", {"X-Rinha-Token": TOKEN})


def up():
    """A fresh stack: whatever an earlier run left is removed first (volumes included)."""
    t0 = time.time()
    prepare()
    down(quiet=True)
    start_simulators()
    log(f"docker compose up -d --wait (RINHA_IMAGE={app_image()} VALKEY_IMAGE={valkey_image()})")
    STATE.mkdir(parents=True, exist_ok=True)
    # The engine keeps only its last 256 events: the start order is recorded while it happens,
    # for the tests.
    with open(STATE / "up-events.jsonl", "w") as events_file:
        events = subprocess.Popen(["docker", "events", "--filter", f"label=com.docker.compose.project={PROJECT}",
                                   "--format", "{{json .}}"], stdout=events_file, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)  # subscribed before the first container starts
        res = compose("up", "-d", "--no-build", "--wait", "--wait-timeout", "120", check=False)
    finally:
        time.sleep(0.3)
        events.terminate()
        events.wait()
    if res.returncode != 0:
        compose("ps", "-a", check=False)
        compose("logs", "--tail", "20", check=False)
        raise RuntimeError("docker compose up failed (containers and logs above)")
    wait_answers("the gateway", GATEWAY_PORT, "/payments-summary")
    log(f"up in {time.time() - t0:.0f} s: gateway http://127.0.0.1:{GATEWAY_PORT}, processors "
        + ", ".join(f"http://127.0.0.1:{port}" for _, port, _ in SIMULATORS.values()) + f" (token {TOKEN})")


FLOOR = f"{PROJECT}-floor"


def start_floor(binary):
    """tools/bench --floor --docker: the floor server (a static binary) in a container of the base
    image, published on the gateway's port as compose.yaml publishes the gateway, so that k6's
    requests take the same way in (docker-proxy and the bridge); the simulators beside it. No
    limits, like the local floor. -> the run's state, as use_for_bench's `up` returns it."""
    prepare()
    down(quiet=True)
    start_simulators()
    run(["docker", "run", "-d", "--name", FLOOR, "-p", f"{GATEWAY_PORT}:{GATEWAY_PORT}",
         "-v", f"{binary}:/usr/local/bin/floor-server:ro", BASE_IMAGE,
         "floor-server", str(GATEWAY_PORT), "0.0.0.0"], stdout=subprocess.DEVNULL)
    wait_answers("the floor", GATEWAY_PORT, "/payments-summary")
    return {"cgroups": "docker", "cgroups_reason": "the floor runs without limits", "processes": bench_processes()}


def bench_processes():
    """Each container's main process, as the host sees it: tools/bench reads its CPU and context
    switches from /proc like a local process's."""
    found = []
    for name in ["valkey", "api1", "api2", "worker1", "worker2", "gateway",
                 "processor-default", "processor-fallback", "floor"]:
        i = inspect(FLOOR if name == "floor" else container_name(name))
        pid = (i or {}).get("State", {}).get("Pid") or 0
        if pid > 0:
            kind = "simulator" if name.startswith("processor-") else "floor" if name == "floor" else "service"
            found.append({"name": name, "pid": pid, "kind": kind})
    return found


def down(quiet=False):
    """Removes the compose stack with its volumes, the simulators and their network."""
    if not daemon_ok():
        if not quiet:
            log("no Docker daemon answers: nothing to stop")
        return
    run(compose_argv("down", "-v", "--remove-orphans", "--timeout", "20"), env=compose_env_light(), check=False,
        quiet=quiet)
    for name in [FLOOR] + [name for name, _, _ in SIMULATORS.values()]:
        run(["docker", "rm", "-f", name], quiet=True, check=False)
    run(["docker", "network", "rm", NETWORK], quiet=True, check=False)
    if not quiet:
        log("stopped (containers, volumes and the payment-processor network removed)")


def use_for_bench(local):
    """Points tools/bench's calls into localstack at the container stack (tools/bench --docker):
    up/down, the ports, the simulators' fees (the scenario's, as set on localstack), the rows."""
    for proc, (name, port, _) in list(SIMULATORS.items()):
        SIMULATORS[proc] = (name, port, local.SIMULATORS[proc][1])
    local.SIMULATORS = {p: (port, fee) for p, (_, port, fee) in SIMULATORS.items()}
    local.gateway_port = lambda: GATEWAY_PORT
    local.run_dir = lambda: STATE

    local.read_state = lambda: {"processes": bench_processes()}

    def bench_up(gateway=None, **_):
        if gateway not in (None, "ours"):
            raise RuntimeError("--docker runs compose.yaml as it is: our gateway only")
        up()
        return {"cgroups": "docker", "cgroups_reason": "", "processes": bench_processes()}

    local.up = bench_up
    local.down = lambda quiet=False: down(quiet=quiet)
    local.status_rows = lambda: ({}, bench_rows())


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(prog="tools/compose", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["up", "down", "status", "prepare"],
                   help="up: fresh stack, answering; down: remove it (volumes too); status: containers, "
                        "memory, restarts; prepare: engine and images only")
    args = p.parse_args(argv)
    try:
        if args.command == "up":
            try:
                up()
            except BaseException:
                down(quiet=True)
                raise
            print_status()
            return 0
        if args.command == "down":
            down()
            return 0
        if args.command == "status":
            return print_status()
        prepare()
        return 0
    except Unavailable as e:
        print(f"[compose] the Docker engine cannot run here: {e}", file=sys.stderr)
        return 3
    except (RuntimeError, subprocess.CalledProcessError) as e:
        print(f"[compose] failed: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
