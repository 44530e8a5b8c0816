# sgs: the consumer and the aggregator in one image (docs/OPERATIONS.md).
#
#   build stage:   Debian 12 compiler, CMake and the -dev libraries; builds the
#                  two shipped programs in Release (tests are not run here; CI
#                  runs them with scripts/test.sh).
#   runtime stage: the shared libraries only, a non-root user, the sample
#                  configuration in /etc/sgs.
#
# Paths: the working directory is /var/lib/sgs (owned by the user sgs), where
# `configs` is a link to /etc/sgs, so the default relative paths of the
# configuration (units.file = configs/units.tsv, calendar.file =
# configs/calendar-cn.json, report.dir = reports) resolve without overrides.
# Mount your own configuration over /etc/sgs (read-only is fine) and a volume
# on /var/lib/sgs/reports.
#
# scripts/check-deploy.sh lints this file (package names, COPY sources, CMake
# targets) on machines without a Docker engine.

FROM debian:bookworm-slim AS build

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        librdkafka-dev libjansson-dev libhiredis-dev libmicrohttpd-dev libcmocka-dev libxlsxwriter-dev \
        libjemalloc-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Every directory CMakeLists.txt names (scripts/check-deploy.sh checks this), so
# that the configure step sees the same targets as a checkout does.
COPY CMakeLists.txt ./
COPY common ./common
COPY consumer ./consumer
COPY aggregator ./aggregator
COPY tools ./tools
COPY bench ./bench
COPY tests ./tests
COPY configs ./configs

# Only the two shipped programs are built: a half-finished tool or benchmark
# elsewhere in the tree cannot break the image, and the build is shorter.
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
    && cmake --build build -j"$(nproc)" --target sgs-consumer sgs-aggregator \
    && strip build/sgs-consumer build/sgs-aggregator


FROM debian:bookworm-slim AS runtime

# The runtime halves of the -dev packages above (Debian 12 names: librdkafka1
# 2.0.2, libjansson4 2.14, libhiredis0.14 0.14.1, libmicrohttpd12 0.9.75,
# libxlsxwriter4 1.1.4 for the aggregator's workbook, libjemalloc2 5.3.0 for
# the consumer's allocator, and zlib1g, which
# xlsxwriter's pkg-config links directly when the linker keeps every -l, as a
# sanitizer build does); ca-certificates for
# kafka.security.protocol=SSL/SASL_SSL against a public CA; curl for the health
# checks on /healthz.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        librdkafka1 libjansson4 libhiredis0.14 libmicrohttpd12 libxlsxwriter4 libjemalloc2 zlib1g \
        ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid so that bind-mounted report directories can be chowned on the
# host ahead of time (chown 10001:10001 DIR).
RUN groupadd --system --gid 10001 sgs \
    && useradd --system --uid 10001 --gid sgs --home-dir /var/lib/sgs --no-create-home \
        --shell /usr/sbin/nologin sgs \
    && mkdir -p /var/lib/sgs/reports \
    && ln -s /etc/sgs /var/lib/sgs/configs \
    && chown -R sgs:sgs /var/lib/sgs

COPY --from=build /src/build/sgs-consumer /src/build/sgs-aggregator /usr/local/bin/
COPY configs/ /etc/sgs/

WORKDIR /var/lib/sgs
USER sgs:sgs

# The default command (the consumer) serves /metrics and /healthz on 9464:
# /healthz answers 200 while Redis answers, Kafka has no fatal error and a
# broker is reachable, else 503 with the reason. Other commands (serve, watch)
# bring their own check (docker-compose.yml). metrics.listen is a known key, so
# the other programs ignore this variable.
ENV SGS_METRICS_LISTEN=0.0.0.0:9464
EXPOSE 9464 8080
HEALTHCHECK --interval=15s --timeout=10s --start-period=20s --retries=3 \
    CMD ["curl", "-fsS", "--max-time", "5", "http://127.0.0.1:9464/healthz"]

# No ENTRYPOINT: the image holds two programs, so the command names the one to
# run, e.g. `sgs-aggregator -c /etc/sgs/sgs.conf watch`. The programs handle
# SIGTERM themselves (finish the batch in hand, leave the group), as PID 1 too.
CMD ["sgs-consumer", "-c", "/etc/sgs/sgs.conf"]
