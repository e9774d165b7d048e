"""Builds release binaries through tools/build-release, the project's one build entry point
(also what the Dockerfile runs): the stack's products when they are missing or older than the
sources, and single products in a scratch folder of their own for the benchmarks."""

import subprocess
import time

import deps
from procs import logger
from stack_config import ROOT, SWIFT_PRODUCTS, build_dir, settings

BUILD_RELEASE = ROOT / "tools" / "build-release"
log = logger("stack")


def build(products, scratch=None):
    """tools/build-release [--scratch-path scratch] products; -> the folder the binaries are in."""
    argv = [str(BUILD_RELEASE)] + (["--scratch-path", str(scratch)] if scratch else []) + list(products)
    subprocess.run(argv, cwd=ROOT, check=True)
    return (scratch / "release") if scratch else ROOT / ".build" / "release"


def newest_source_mtime():
    newest = 0
    for base in [ROOT / "Sources", ROOT / "Package.swift"]:
        paths = [base] if base.is_file() else base.rglob("*")
        for p in paths:
            if p.is_file():
                newest = max(newest, p.stat().st_mtime)
    return newest


def build_release(force=False):
    """Builds every binary of the stack unless all are newer than the sources (or building is off:
    --no-build)."""
    if not settings.build:
        return
    out = build_dir()
    bins = [out / p for p in SWIFT_PRODUCTS]
    if not force and all(b.exists() for b in bins):
        if min(b.stat().st_mtime for b in bins) >= newest_source_mtime():
            return
    deps.ensure_system_deps()
    log("building release binaries (swift build -c release --static-swift-stdlib)")
    t0 = time.time()
    build(SWIFT_PRODUCTS)
    for b in bins:
        b.touch()
    log(f"built in {time.time() - t0:.0f} s")
