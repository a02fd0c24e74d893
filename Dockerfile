# syntax=docker/dockerfile:1
# One image for every service; the command picks one: `wfe serve registry|policy|reporting`.
#
# The build installs the project exactly as the test suite does (deploy/test.sh runs
# `pip install -e '.[dev]'` from the same pyproject.toml): here `pip install .`, i.e. pip
# builds the wheel from pyproject.toml and installs it with the same dependency pins, minus
# the editable link and the dev extra. Every dependency ships manylinux wheels for CPython
# 3.11, so neither stage needs a compiler.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN /opt/venv/bin/pip install .
# shared/migrations.py finds the Alembic scripts at <site-packages>/deploy/migrations (the
# repository layout, one level above `shared/`); the wheel packages only shared* and
# services*, so put them where an installed `shared` looks.
COPY deploy/migrations ./deploy/migrations
RUN site="$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
    && mkdir -p "$site/deploy" \
    && cp -r deploy/migrations "$site/deploy/migrations" \
    && find "$site/deploy" -name '__pycache__' -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WFE_DATA_DIR=/var/lib/wfe
RUN groupadd --system --gid 10001 wfe \
    && useradd --system --uid 10001 --gid wfe --home-dir /var/lib/wfe --no-create-home \
        --shell /usr/sbin/nologin wfe \
    && mkdir -p /var/lib/wfe \
    && chown wfe:wfe /var/lib/wfe
COPY --from=builder /opt/venv /opt/venv
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/wfe
EXPOSE 8001 8002 8003
# Liveness of whichever service runs on its default port (slim has no curl). Compose and
# Kubernetes define their own checks per service; this one serves a plain `docker run`.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as r\nfor port in (8001, 8002, 8003):\n    try:\n        r.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)\n        sys.exit(0)\n    except OSError:\n        pass\nsys.exit(1)"]
ENTRYPOINT ["wfe"]
CMD ["serve", "registry", "--host", "0.0.0.0"]
