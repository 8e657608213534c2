# syntax=docker/dockerfile:1
# One image for every vitalstream process: `docker run IMAGE gateway|worker|sink|topics create|db migrate|...`
# (ENTRYPOINT is the `vitalstream` CLI, DESIGN §3). Used by docker-compose.yml and deploy/k8s/.
#
#   docker build -t vitalstream:local .
#   docker run --rm -e VITALSTREAM_KAFKA_BOOTSTRAP=... vitalstream:local gateway

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtualenv with the dependencies, then the project itself -------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# A compiler only for the odd dependency without a wheel for this platform (e.g. arm64);
# it stays in this stage and never reaches the runtime image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first (their own layer: rebuilt only when the lock changes): every one pinned with
# its hashes in requirements-runtime.lock (`make lock`); pip refuses anything else.
COPY requirements-runtime.lock ./
RUN pip install --require-hashes -r requirements-runtime.lock

# Then the project (non-editable; package data such as Avro schemas and migrations included).
# README.md* : the glob keeps the build working while the README is being written.
COPY pyproject.toml README.md* ./
COPY schemas ./schemas
COPY gateway ./gateway
COPY streams ./streams
COPY sinks ./sinks
COPY vitalstream ./vitalstream
RUN pip install --no-deps . \
 && vitalstream --version

# --- runtime -----------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="vitalstream" \
      org.opencontainers.image.description="Wearable-health webhooks to always-current, quality-scored metrics on Apache Kafka" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VITALSTREAM_GATEWAY_HOST=0.0.0.0 \
    VITALSTREAM_WORKER_DATADIR=/var/lib/vitalstream/worker

# A fixed numeric uid/gid so Kubernetes can verify runAsNonRoot (deploy/k8s uses 10001).
RUN groupadd --system --gid 10001 vitalstream \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/vitalstream --create-home \
            --shell /usr/sbin/nologin vitalstream \
 && mkdir -p /var/lib/vitalstream/worker \
 && chown -R 10001:10001 /var/lib/vitalstream

COPY --from=build /opt/venv /opt/venv

USER 10001:10001
WORKDIR /home/vitalstream

# gateway HTTP, gateway admin, worker web/metrics, sink metrics
EXPOSE 8080 8081 6066 9102 8090

ENTRYPOINT ["vitalstream"]
CMD ["--help"]
