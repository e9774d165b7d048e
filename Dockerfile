# syntax=docker/dockerfile:1
# One image for every process of the stack (gateway, APIs, workers, and the processor simulator
# for tests), built in two stages. Without a registry, Dockerfile.prebuilt fills the same runtime
# stage with the release binaries of the host (tools/compose does that).

# Build: the pinned official Swift image. Binaries get the Swift runtime and hiredis linked in
# statically (tools/build-release), so the runtime stage needs nothing from Swift.
FROM swift:6.3.1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libhiredis-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY tools/build-release ./tools/build-release
RUN tools/build-release rinha-api rinha-worker rinha-gateway rinha-probe processor-simulator \
 && mkdir -p /out \
 && for b in rinha-api rinha-worker rinha-gateway rinha-probe processor-simulator; do cp ".build/release/$b" /out/; done \
 && strip /out/* \
 && if ldd /out/* | grep -Eq 'libswift|hiredis'; then echo "a binary links Swift or hiredis dynamically" >&2; exit 1; fi

# Runtime: a minimal Debian (glibc, libstdc++), no shell tools beyond the base, a non-root user.
FROM debian:12.12-slim AS runtime
RUN groupadd --system --gid 10001 rinha \
 && useradd --system --uid 10001 --gid rinha --no-create-home --shell /usr/sbin/nologin rinha
COPY --from=build /out/ /usr/local/bin/
USER rinha:rinha
# Each compose service names its own command; alone, the image shows the gateway's flags.
CMD ["rinha-gateway", "--help"]
