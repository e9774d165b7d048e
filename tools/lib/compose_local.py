"""Maps a compose.yaml service to a process on this machine: Docker volumes become folders of the
run directory, the processors' and the gateway's addresses become local ones, `valkey-server` and
our products become paths to their binaries, and each service gets a readiness check, which
compose.yaml leaves out (each would be a `docker exec` charged to the container's CPU quota every
second): Valkey answers PONG, an API its /health, a worker's heartbeat is in Valkey, the gateway
answers the summary."""

import re
from pathlib import Path

from compose_file import services
from deps import valkey_bin, valkey_env
from stack_config import SWIFT_PRODUCTS, build_dir, gateway_port, processor_urls


def translate(svc, run):
    """compose service -> (argv, env, healthcheck argv) for a local process."""
    mounts = {}
    for v in svc["volumes"]:
        src, dst = v.split(":")[:2]
        mounts[dst] = str(run / src)

    urls, _ = processor_urls()
    port = gateway_port()

    def local(text):
        for dst, src in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
            text = re.sub(rf"(^|[:=,\s]){re.escape(dst)}(?=/|$)", lambda m: m.group(1) + src, text)
        text = text.replace("http://payment-processor-default:8080", urls["default"])
        text = text.replace("http://payment-processor-fallback:8080", urls["fallback"])
        text = text.replace("0.0.0.0:9999", f"127.0.0.1:{port}")
        text = re.sub(r"(^|\s)(valkey-cli|valkey-server)(?=\s)", lambda m: m.group(1) + valkey_bin(m.group(2)), text)
        return text

    def binary(argv):
        if not argv:
            return argv
        head = argv[0]
        if head in ("valkey-server", "valkey-cli"):
            return [valkey_bin(head)] + argv[1:]
        if (build_dir() / head).exists() or head in SWIFT_PRODUCTS:
            return [str(build_dir() / head)] + argv[1:]
        return argv

    argv = binary([local(a) for a in svc["command"]])
    env = {k: local(v) for k, v in svc["environment"].items()}
    if svc["command"][:1] == ["valkey-server"]:
        env.update(valkey_env())
    hc = binary([local(a) for a in svc["healthcheck"]]) if svc["healthcheck"] else None
    if hc is None and svc["command"][:1] == ["rinha-worker"] and env.get("VALKEY_URL", "").startswith("unix:"):
        # A worker serves nothing; it is up once its heartbeat is in Valkey. (The key without
        # the hash tag is the one releases before the tag wrote: STACK_BUILD_DIR may point at
        # one, to measure it side by side.)
        prefix, wid = env.get("KEY_PREFIX", "rinha"), env.get("WORKER_ID", "")
        keys = f"{{{prefix}}}:heartbeat:{wid} {prefix}:heartbeat:{wid}"
        cli = valkey_bin("valkey-cli")
        hc = ["sh", "-c", f'[ "$({cli} -s {env["VALKEY_URL"][5:]} exists {keys})" = 1 ]']
    if hc is None and argv[:1] == [valkey_bin("valkey-server")]:
        # PONG only once the data is loaded (a restart answers LOADING until then).
        sock = argv[argv.index("--unixsocket") + 1]
        hc = ["sh", "-c", f'[ "$({valkey_bin("valkey-cli")} -s {sock} ping)" = PONG ]']
    if hc is None and svc["command"][:1] == ["rinha-api"]:
        hc = [str(build_dir() / "rinha-probe"), argv[argv.index("--listen") + 1], "/health"]
    if svc["name"] == "gateway" and hc is None:
        hc = [str(build_dir() / "rinha-probe"), f"127.0.0.1:{port}", "/payments-summary"]
    return argv, env, hc


def valkey_argv(sock, data_dir, compose_services=None):
    """compose.yaml's valkey command with its Unix socket at `sock` and its data folder at
    data_dir (created): one Valkey set up as the stack's, for a benchmark of one part."""
    svc = next(s for s in (compose_services or services()) if s["name"] == "valkey")
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    argv = []
    for a in svc["command"]:
        if a == "valkey-server":
            a = valkey_bin("valkey-server")
        elif a.endswith("/valkey.sock"):
            a = str(sock)
        elif a == "/data":
            a = str(data_dir)
        argv.append(a)
    return argv
