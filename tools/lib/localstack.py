"""Runs the services of compose.yaml as local processes: the same commands, environment and
limits, with Docker's volumes mapped to folders of one run directory, the processor simulators
standing in for the external payment processors, and (where the machine lets us) each process
held to its service's CPU quota and memory limit by a cgroup of its own.

This module is the one name the tools import (tools/stack, tools/test, tools/bench, drill, soak,
the e2e suite); the work is done in modules of one job each:

  stack_config   where things are: root, ports, simulators, run and build folders, settings
  deps           pip and apt installs, the Valkey binaries
  build          release binaries through tools/build-release
  compose_file   compose.yaml's services, interpolated and in start order
  compose_local  a compose service as a local process (argv, env, health check)
  cgroups        one cgroup per service, its limits and memory figures
  procs          starting, stopping and waiting for processes (all tools)
  procinfo       what /proc says of a process
  stack_state    the state file of the running stack
  stack_run      up, down, restart one service
  stack_status   tools/stack status and the "where is everything" text
"""

from build import build_release  # noqa: F401
from cgroups import Cgroups, read_int  # noqa: F401
from compose_file import interpolate, load_compose, memory_bytes, services  # noqa: F401
from compose_local import translate, valkey_argv  # noqa: F401
from deps import ensure_python_deps, ensure_system_deps, valkey_bin, valkey_env  # noqa: F401
from procinfo import cpu_seconds, hwm_kb, rss_kb  # noqa: F401
from procs import alive, command_ok, logger, parse_cpu_list, tcp_open  # noqa: F401
from stack_config import (COMPOSE, ROOT, SIMULATORS, SWIFT_PRODUCTS, TOKEN, build_dir,  # noqa: F401
                          gateway_port, processor_urls, run_dir, settings)
from stack_run import (busy_ports, down, restart_service, signal_service, start, up,  # noqa: F401
                       wait_ready)
from stack_state import process, read_state, record, running_names, write_state  # noqa: F401
from stack_status import describe, print_status, status_rows  # noqa: F401

log = logger("stack")


def configure(cgroup_name=None, simulator_fees=None, build=None):
    """Settings for this run of a tool: its own cgroup parent (so that a benchmark's stack never
    shares a service's limit with tools/stack's or e2e's), the simulators' fees per processor
    (the preview period's), and whether to build (False: use the binaries as they are)."""
    if cgroup_name is not None:
        settings.cgroup_name = cgroup_name
    if simulator_fees:
        for p, (port, _) in list(SIMULATORS.items()):
            SIMULATORS[p] = (port, simulator_fees[p])
    if build is not None:
        settings.build = build


def cgroup_name():
    return settings.cgroup_name
