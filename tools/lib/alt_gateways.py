"""HAProxy or nginx in place of our gateway, for comparison (`localstack.up(gateway='haproxy')`,
tools/bench-gateway).

Each is set up the way a careful Rinha entry sets it up: HTTP mode, one worker, no access log,
keep-alive connections to the two APIs over their Unix sockets, reused across client requests.
It runs in the foreground as its own process group, under the gateway service's cgroup (CPU quota
and memory limit of compose.yaml's `gateway`), with its config, pid file, error log and temporary
files inside the run folder.
"""

import os
import re
import subprocess
from pathlib import Path

from cgroups import Cgroups
from compose_local import translate
from deps import program
from procs import spawn
from stack_config import ROOT

KINDS = ("haproxy", "nginx")


def upstream_sockets(run_dir, services):
    """The API sockets the gateway service balances over (its GATEWAY_UPSTREAMS, mapped to run_dir)."""
    gw = next((s for s in services if s["name"] == "gateway"), None)
    if gw:
        _, env, _ = translate(gw, Path(run_dir))
        paths = [p.strip() for p in env.get("GATEWAY_UPSTREAMS", "").split(",") if p.strip()]
        if paths:
            return paths
    return [str(Path(run_dir) / "sockets" / f"api{i}.sock") for i in (1, 2)]


def haproxy_config(port, sockets, folder):
    servers = "\n".join(f"    server api{i} unix@{path}" for i, path in enumerate(sockets, 1))
    return f"""# Written by tools/lib/alt_gateways.py for one run; see there.
global
    nbthread 1
    maxconn 4096
    pidfile {folder}/haproxy.pid
    # no log: nothing per request, like a careful entry

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s

frontend rinha
    bind 127.0.0.1:{port}
    default_backend apis

backend apis
    balance roundrobin
{servers}
"""


def nginx_config(port, sockets, folder):
    servers = "\n".join(f"        server unix:{path};" for path in sockets)
    user = "user root;\n" if os.geteuid() == 0 else ""  # the workers must reach root's sockets
    return f"""# Written by tools/lib/alt_gateways.py for one run; see there.
worker_processes 1;
daemon off;
{user}pid {folder}/nginx.pid;
error_log {folder}/error.log warn;

events {{
    worker_connections 4096;
    multi_accept on;
    use epoll;
}}

http {{
    access_log off;
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;

    upstream apis {{
{servers}
        keepalive 256;
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }}

    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://apis;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def _nginx_has_e_flag(binary):
    """`-e` (error log before the config is read) exists from nginx 1.19.5 on."""
    out = subprocess.run([binary, "-v"], capture_output=True, text=True).stderr
    m = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    return bool(m) and tuple(int(x) for x in m.groups()) >= (1, 19, 5)


def prepare(kind, port, sockets, folder):
    """Writes `kind`'s config for a balancer on 127.0.0.1:port over the Unix sockets into folder
    (with the temporary folders nginx needs), checks it with the binary's own test, and returns
    the argv that runs it in the foreground."""
    if kind not in KINDS:
        raise ValueError(f"unknown gateway {kind!r}; expected one of {', '.join(KINDS)}")
    binary = program(kind)
    if not Path(binary).exists():
        raise RuntimeError(f"{kind} is not installed (apt-get install {kind})")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sockets = [str(s) for s in sockets]
    conf = folder / f"{kind}.conf"
    if kind == "haproxy":
        conf.write_text(haproxy_config(port, sockets, folder))
        subprocess.run([binary, "-c", "-q", "-f", str(conf)], check=True)
        return [binary, "-db", "-f", str(conf)]
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / sub).mkdir(exist_ok=True)
    conf.write_text(nginx_config(port, sockets, folder))
    return checked_nginx_argv(binary, folder, conf)


def checked_nginx_argv(binary, folder, conf):
    """`nginx -t` on conf (prefix folder, error log there from the start where nginx can), then
    the argv that runs it."""
    early_log = ["-e", str(folder / "error.log")] if _nginx_has_e_flag(binary) else []
    subprocess.run([binary, "-t", "-q", "-p", str(folder), *early_log, "-c", str(conf)], check=True)
    return [binary, "-p", str(folder), *early_log, "-c", str(conf)]


def start_alternative(kind, run_dir, services, port, cpu_list):
    """Writes the config, starts `kind` in the foreground as its own process group under the
    gateway's cgroup, and returns (pid, argv). The caller waits for the port."""
    run_dir = Path(run_dir)
    argv = prepare(kind, port, upstream_sockets(run_dir, services), run_dir / kind)
    gw = next((s for s in services if s["name"] == "gateway"), {"cpus": None, "memory": None})
    procs = Cgroups().create("gateway", gw["cpus"], gw["memory"])
    p = spawn(argv, {}, run_dir / "logs" / "gateway.log", procs, cpu_list, cwd=ROOT)
    return p.pid, argv
