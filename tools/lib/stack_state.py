"""The local stack's state file (run/stack.json): which processes it started, with the argv,
environment, cgroup files, health check and CPUs to start each again, so that another command
(tools/stack down, a test's restart) can find them."""

import json

from procs import alive
from stack_config import run_dir


def state_file():
    return run_dir() / "stack.json"


def read_state():
    try:
        return json.loads(state_file().read_text())
    except (OSError, ValueError):
        return {"processes": []}


def write_state(state):
    state_file().write_text(json.dumps(state, indent=2))


def record(state, name, pid, argv, kind, env=None, procs=(), health=None, cpus=None):
    """Adds a started process to state and writes it at once (a failed start stops what is in it)."""
    state["processes"].append({"name": name, "pid": pid, "argv": argv, "kind": kind, "env": env or {},
                               "procs": [str(p) for p in procs], "health": health,
                               "cpus": sorted(cpus) if cpus else None})
    write_state(state)


def process(name):
    for p in read_state()["processes"]:
        if p["name"] == name:
            return p
    raise KeyError(name)


def running_names():
    """The processes of the state that still run."""
    return [p["name"] for p in read_state().get("processes", []) if alive(p["pid"])]
