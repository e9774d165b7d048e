"""Reads compose.yaml: its services with ${VAR:-default} filled from the environment, Docker's
memory units in bytes, health checks as argv, and the services in start order (dependencies
first). Knows nothing of how they run."""

import os
import re

from stack_config import COMPOSE

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
