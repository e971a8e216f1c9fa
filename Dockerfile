# syntax=docker/dockerfile:1
# Two images from one file:
#   docker build --target api    -t nb201-rebench-api .     # FastAPI + storage, no torch
#   docker build --target worker -t nb201-rebench-worker .  # Celery worker with CUDA torch
ARG PYTHON_VERSION=3.11

# ---- source: the package, without tests or local state -------------------------------
FROM python:${PYTHON_VERSION}-slim AS source
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY archscale ./archscale
COPY service ./service
COPY migrations ./migrations
COPY worker ./worker

# ---- api: the web process never imports torch ----------------------------------------
FROM python:${PYTHON_VERSION}-slim AS api
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 REBENCH_HOME=/var/lib/rebench
WORKDIR /app
COPY --from=source /src /app
RUN pip install --no-cache-dir '.[api]' && useradd --system --uid 10001 rebench \
    && mkdir -p /var/lib/rebench && chown rebench /var/lib/rebench
USER rebench
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
# Migrations run at start; they are idempotent.
CMD ["sh", "-c", "rebench db upgrade && rebench serve --host 0.0.0.0 --port 8000"]

# ---- worker: CUDA build of torch from PyPI (its own pin; the CPU pin is for CI only) ----
# PyPI's Linux x86_64 torch wheel is the CUDA build (it pulls the nvidia-* runtime wheels); the
# default version is the one CI tests (scripts/setup.sh installs its CPU build).
FROM python:${PYTHON_VERSION}-slim AS worker
ARG TORCH_VERSION=2.13.0
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 REBENCH_HOME=/var/lib/rebench REBENCH_DATA_ROOT=/data
WORKDIR /app
COPY --from=source /src /app
# mup (the "mup" scaling) comes without its dependencies, as in scripts/setup.sh: its pins break
# beside modern numpy/torch. The artifacts directory exists in the image so that a named volume
# mounted there starts owned by the unprivileged user (Docker copies the ownership).
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" && pip install --no-cache-dir '.[api,worker]' \
    && pip install --no-cache-dir --no-deps mup==1.0.0 \
    && useradd --system --uid 10001 rebench && mkdir -p /var/lib/rebench/artifacts /data \
    && chown -R rebench /var/lib/rebench
USER rebench
# One Celery worker process per visible GPU; CUDA is only touched inside the children.
CMD ["rebench", "worker"]
