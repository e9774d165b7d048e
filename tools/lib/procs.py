"""The one process library of tools/: starting a process in a session (process group) of its own,
stopping a process group (SIGTERM, then SIGKILL after a grace), waiting for a port, a socket or any
condition while watching that the process still runs, and the `[tool] message` log lines.

Used by the local stack (localstack and its modules), tools/bench, bench-api, bench-gateway, drill
and soak. Nothing here knows compose.yaml or the stack.
"""

import atexit
import os
import signal
import socket
import subprocess
import sys
import time


def logger(prefix, stream=None):
    """A `log(msg)` that prints `[prefix] msg` at once (stdout unless `stream` is given)."""
    def log(msg):
        print(f"[{prefix}] {msg}", file=stream or sys.stdout, flush=True)
    return log


# ---------------------------------------------------------------- start

def parse_cpu_list(text):
    """'0' or '0,1' or '0-1' -> set of CPUs, or None."""
    if not text:
        return None
    cpus = set()
    for part in str(text).split(","):
        a, _, b = part.partition("-")
        cpus.update(range(int(a), int(b or a) + 1))
    return cpus


def spawn(argv, env=None, log_path=None, procs_files=(), cpus=None, cwd=None):
    """Starts argv in a session of its own (its pid is its process group's id), with env added to
    ours, stdout and stderr appended to log_path (discarded without one), no stdin, its pid written
    into each cgroup.procs file of procs_files and its CPU affinity set to cpus (a set or '0,1')
    before it runs. -> the Popen."""
    full_env = {**os.environ, **(env or {})}
    cpu_set = parse_cpu_list(cpus) if isinstance(cpus, str) else cpus

    def place():
        os.setsid()
        for f in procs_files:
            with open(f, "w") as fh:
                fh.write(str(os.getpid()))
        if cpu_set is not None:
            os.sched_setaffinity(0, cpu_set)

    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        return subprocess.Popen(argv, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=place, cwd=cwd)
    finally:
        if log_path:
            out.close()


# ---------------------------------------------------------------- stop

def alive(pid):
    """True while pid runs (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return open(f"/proc/{pid}/stat").read().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False


def signal_group(pid, sig):
    """Sends sig to pid's process group; nothing when it is gone."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def stop_group(pid, grace=15.0):
    """SIGTERM to the process group led by pid, SIGKILL after `grace` seconds if pid still runs."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.time() + grace
    while time.time() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
        signal_group(pid, signal.SIGKILL)


def stop(p, grace=5.0):
    """stop_group for a Popen of ours, then reaps it."""
    if p.poll() is None:
        stop_group(p.pid, grace)
        p.wait()


class Children:
    """The processes one tool started (Popen objects, each in its own session), stopped in reverse
    order by cleanup(): at exit, and on the signals exit_on_signals() names."""

    def __init__(self, grace=5.0):
        self.procs = []
        self.grace = grace

    def spawn(self, argv, **kw):
        p = spawn(argv, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, grace=None):
        stop(p, self.grace if grace is None else grace)
        if p in self.procs:
            self.procs.remove(p)

    def cleanup(self, grace=None):
        for p in list(reversed(self.procs)):
            self.stop(p, grace)


def exit_on_signals(cleanup, signals=(signal.SIGINT, signal.SIGTERM), log=None):
    """Runs cleanup at exit, and on any of signals runs it and exits with 128 + the signal."""
    def handle(signum, _frame):
        if log:
            log(f"signal {signum}: stopping")
        cleanup()
        sys.exit(128 + signum)
    for s in signals:
        signal.signal(s, handle)
    atexit.register(cleanup)


# ---------------------------------------------------------------- wait

def tcp_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def unix_open(path):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(0.5)
            s.connect(str(path))
            return True
    except OSError:
        return False


def command_ok(argv):
    """True when argv exits 0 within 3 s (a health check)."""
    try:
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, proc=None, timeout=30, interval=0.05, error=RuntimeError, see="its log"):
    """Polls check() every `interval` s until it is true; raises `error` when `proc` (a Popen or a
    pid; None: nothing to watch) exits first or after `timeout` s. An OSError or failed command
    from check() counts as not ready."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if isinstance(proc, int) and not alive(proc):
            raise error(f"{what} exited during start-up; see {see}")
        if isinstance(proc, subprocess.Popen) and proc.poll() is not None:
            raise error(f"{what} exited with {proc.returncode}; see {see}")
        try:
            if check():
                return
        except (OSError, subprocess.CalledProcessError):
            pass
        time.sleep(interval)
    raise error(f"{what} not ready after {timeout} s")
