# syntax=docker/dockerfile:1
# One image for every process of Engagements: the command picks the service and what it runs.
#   docker build -t engagements .
#   docker run engagements services.commitments serve          (the default: the commitments API on :8000)
#   docker run engagements services.commitments relay | scan | migrate
#   docker run engagements services.notifications serve | consume | migrate
#   docker run engagements services.reporting serve | project | migrate
# The environment variables are in docs/configuration.md; the deployments in docs/deployment.md.

ARG PYTHON_VERSION=3.12
ARG DEBIAN_RELEASE=bookworm

# uv at the version the repository uses (Makefile: .venv/bin/uv), from its official image.
FROM ghcr.io/astral-sh/uv:0.13.10 AS uv

# --- build: the locked dependencies, then the code, into /app/.venv --------------------------------------
FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS build
COPY --from=uv /uv /usr/local/bin/uv
# The image's Python, not one uv would download; files copied, not hard-linked from uv's cache (a mount);
# bytecode compiled at build time (the runtime image's code is read-only).
ENV UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# The dependencies first, from the lock file alone: this layer is rebuilt only when the lock changes.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project
# The code: the repository is run from its root (pyproject: package = false), nothing to install; deploy/
# (the embedded run, the deployment files) stays out.
COPY shared/ shared/
COPY services/ services/
COPY pyproject.toml uv.lock ./
RUN python -m compileall -q shared services

# --- runtime: Python, the environment and the code; no compiler, no uv, not root ---------------------------
FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS runtime
ARG APP_UID=10001
# A system user without a shell or a home of its own; files owned by root, so the process cannot change its code.
RUN groupadd --system --gid "${APP_UID}" engagements \
    && useradd --system --uid "${APP_UID}" --gid engagements --no-create-home --shell /usr/sbin/nologin engagements \
    && install -d -o engagements -g engagements -m 0700 /var/lib/engagements
COPY --from=build /app /app
WORKDIR /app
# HOST: the APIs listen on every interface of the container. DATA_DIR: the only folder the processes write to
# (the mail sender's identity slot); mount a volume there, or an emptyDir in Kubernetes.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    DATA_DIR=/var/lib/engagements
USER ${APP_UID}:${APP_UID}
EXPOSE 8000
# `docker stop` sends SIGTERM, which every command handles (uvicorn, the relay, the scanner, the workers).
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m"]
CMD ["services.commitments", "serve"]
