"""Where the local stack lives and what it talks to: the project root, compose.yaml, the products
it builds, the build and run folders, the gateway's port, the processors (our simulators, or
the user's URLs), and the cgroup parent. Environment variables set each (STACK_BUILD_DIR,
STACK_RUN_DIR, STACK_PORT, STACK_SIM_PORTS, PROCESSOR_*_URL); a tool that needs another setting
for one run sets it through localstack.configure(), which changes the values here."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
SWIFT_PRODUCTS = ["rinha-api", "rinha-worker", "rinha-gateway", "processor-simulator", "rinha-probe"]
# The fees of the final test (the official processors' settings), token as in the official setup.
# One dict for the whole run: configure() changes it in place.
SIMULATORS = {"default": (8001, "0.07"), "fallback": (8002, "0.10")}
if os.environ.get("STACK_SIM_PORTS"):
    _d, _f = (int(x) for x in os.environ["STACK_SIM_PORTS"].split(","))
    SIMULATORS = {"default": (_d, "0.07"), "fallback": (_f, "0.10")}
TOKEN = "123"


class Settings:
    """What one run of a tool may change: the cgroup parent (tools/bench and tools/drill use their
    own, so that two stacks never share a service's limit) and whether missing or stale binaries
    are built (off with --no-build)."""
    cgroup_name = "rinha-stack"
    build = True


settings = Settings()


def build_dir():
    return Path(os.environ.get("STACK_BUILD_DIR", ROOT / ".build" / "release"))


def run_dir():
    return Path(os.environ.get("STACK_RUN_DIR", ROOT / "run"))


def gateway_port():
    return int(os.environ.get("STACK_PORT", "9999"))


def processor_urls():
    """The processors the workers call: the user's, or our simulators. -> (urls, simulated)."""
    d, f = os.environ.get("PROCESSOR_DEFAULT_URL"), os.environ.get("PROCESSOR_FALLBACK_URL")
    if d and f:
        return {"default": d, "fallback": f}, False
    return {p: f"http://127.0.0.1:{port}" for p, (port, _) in SIMULATORS.items()}, True
