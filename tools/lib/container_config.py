# One job: what the container stack is called and where it lives (project, images, network, ports,
# simulators, state folder), shared by the engine, image, status and stack modules.
"""Names and places of the container stack: compose.yaml's project, the app image's tag, the
simulators' containers and ports, the state folder (run/compose). Overrides go only through the
variables compose.yaml already reads (RINHA_IMAGE here; VALKEY_IMAGE in container_images)."""

import os

from stack_config import ROOT, TOKEN  # noqa: F401  (the local stack's root and simulator token)

PROJECT = "rinha-swift"  # compose.yaml's `name:`
APP_IMAGE = "rinha-swift/rinha-swift:0.1.0-local"  # a version in the tag: the deployment tests pin tags
NETWORK = "payment-processor"
# Container name, published port, fee: the final test's processors (as localstack.SIMULATORS).
# One dict for the whole run: use_for_bench() changes it in place.
SIMULATORS = {"default": ("payment-processor-default", 8001, "0.07"),
              "fallback": ("payment-processor-fallback", 8002, "0.10")}
GATEWAY_PORT = 9999
STATE = ROOT / "run" / "compose"


def app_image():
    return os.environ.get("RINHA_IMAGE") or APP_IMAGE
