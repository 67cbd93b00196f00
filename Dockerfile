# syntax=docker/dockerfile:1
#
# The voice-studio server as a container image.
#
#   docker build -t voice-studio .                      # builds the binary, then the runtime image
#   podman build --format docker -t voice-studio .      # the same with podman (see HEALTHCHECK)
#
# It needs BuildKit (Docker's builder since 23.0) or buildah/podman: the cache mounts and the
# skipping of stages the target does not use are theirs.
#
# Stages:
#   build         Rust 1.95 on Debian bookworm: `cargo build --release --locked -p voice-studio`
#                 (the plugins are built for wasm32-wasip2 by the same command).
#   runtime-base  debian:bookworm-slim with libopus0, a non-root user, the folders, the settings,
#                 the health check and the entry point: everything but the binary.
#   prebuilt      runtime-base plus a binary built elsewhere, taken from the build context:
#                   podman build --format docker --target prebuilt -f Dockerfile DIR
#                 where DIR holds `voice-studio` (the release binary) and `briefings/`. CI builds
#                 its image this way (.ci/container-check) because it cannot pull the Rust image.
#   runtime       runtime-base plus the binary from `build`: the default (last) stage.
#
# Why `--target prebuilt` and not `FROM ${BINARY_STAGE}`: both BuildKit and buildah skip stages the
# target does not need, so `--target prebuilt` never pulls the Rust image, and the default build
# never reads the missing `voice-studio` file. A stage picked by a build argument's default
# (`ARG BINARY_STAGE=build` ... `FROM ${BINARY_STAGE}`) is not seen by podman 4.3's (Debian
# bookworm's) stage analysis: it skips `build`, then looks for an image called "build" and fails.
#
# Running it: the server binds HOST=0.0.0.0 here, and outside loopback it refuses open access, and
# NODE_ENV=production refuses it everywhere. So a container needs
#   STUDIO_TOKEN_SECRET   at least 32 bytes (`openssl rand -hex 32`): signs the join links; without
#                         it the server exits with code 2 naming the problem
#   STUDIO_ADMIN_TOKEN    at least 32 characters: mints the links (POST /api/episodes) and guards
#                         the settings API; without it the server runs but no link can be minted
# See docs/SECURITY.md, docs/OPERATIONS.md ("In a container") and compose.yaml.

# ------------------------------------------------------------------------------------------------
FROM docker.io/library/rust:1.95-bookworm AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libopus-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
# The plugins are WebAssembly components for WASI 0.2, built by the runtime crate's build script.
RUN rustup target add wasm32-wasip2

WORKDIR /src
COPY . .
# The registry and target folders are build caches (BuildKit, buildah): a rebuild after a source
# change recompiles only what changed. The binary is copied out of the cache in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p voice-studio \
 && install -D -m 0755 target/release/voice-studio /out/voice-studio

# ------------------------------------------------------------------------------------------------
FROM docker.io/library/debian:bookworm-slim AS runtime-base

# libopus0: the recorder's encoder and the decoder. ca-certificates: TLS to the real providers.
# curl: the HEALTHCHECK.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libopus0 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid and gid (10001), so a bind-mounted host folder can be given to it: `chown 10001:10001`.
# The compile cache must belong to the server's user and be closed to others, else it is not used.
RUN groupadd --gid 10001 studio \
 && useradd --uid 10001 --gid studio --home-dir /var/lib/voice-studio --no-create-home \
      --shell /usr/sbin/nologin studio \
 && install -d -o studio -g studio -m 0755 /var/lib/voice-studio \
 && install -d -o studio -g studio -m 0750 /var/lib/voice-studio/recordings \
 && install -d -o studio -g studio -m 0755 /var/lib/voice-studio/briefings /var/lib/voice-studio/plugins \
 && install -d -o studio -g studio -m 0700 /var/lib/voice-studio/cache
# The example briefing, so a new briefings volume starts with it (Docker and podman copy an image's
# folder into a volume mounted there the first time).
COPY --chown=studio:studio briefings/ /var/lib/voice-studio/briefings/

# Listen on every interface of the container (publish the port to choose who reaches it).
ENV HOST=0.0.0.0 \
    PORT=4000 \
    NODE_ENV=production \
    LOG_FORMAT=json \
    RECORDING_DIR=/var/lib/voice-studio/recordings \
    BRIEFINGS_DIR=/var/lib/voice-studio/briefings \
    PLUGIN_CACHE_DIR=/var/lib/voice-studio/cache/plugins \
    PLUGIN_CACHE_KEY_FILE=/var/lib/voice-studio/cache/plugins.key

WORKDIR /var/lib/voice-studio
USER studio:studio
EXPOSE 4000
# Recordings (one folder per episode), briefings (Markdown), and your own plugins (.wasm files,
# named by absolute path in a mounted plugins.toml, or all plugins when PLUGIN_DIR points here).
# The first-party plugins and the default plugins.toml are built into the binary and need neither.
VOLUME ["/var/lib/voice-studio/recordings", "/var/lib/voice-studio/briefings", "/var/lib/voice-studio/plugins"]

# Ready means the plugins are loaded and the recording folder is writable (GET /ready answers 200).
# HEALTHCHECK is part of the Docker image format: podman keeps it only with `--format docker`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl --fail --silent --show-error --max-time 4 --output /dev/null "http://127.0.0.1:${PORT}/ready" || exit 1

ENTRYPOINT ["/usr/local/bin/voice-studio"]
CMD ["serve"]

# ------------------------------------------------------------------------------------------------
FROM runtime-base AS prebuilt
COPY --chmod=0755 voice-studio /usr/local/bin/voice-studio

# ------------------------------------------------------------------------------------------------
FROM runtime-base AS runtime
COPY --from=build /out/voice-studio /usr/local/bin/voice-studio
