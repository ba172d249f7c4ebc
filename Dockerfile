# The prediction service: `python -m tabular_mlops.serving.app` with the dependencies of uv.lock, as a non-root
# user, and the model baked in: `make bundle` writes dist/serving (the registry version's exact
# model file, its manifest and an example record), and the service checks the file against the
# manifest at start, so the image needs no registry and /version names the version. MODEL_URI
# (with MODEL_PATH="") serves a registry alias instead. See docs/delivery.md.
# Build: make bundle && docker build -t model-serving .
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11-slim-bookworm AS build
COPY --from=uv /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first, in their own layer: it is rebuilt only when uv.lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY src ./src
RUN uv sync --locked --no-dev --no-editable

FROM python:3.11-slim-bookworm
RUN groupadd --gid 10001 app \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY params.yaml ./
COPY dist/serving/ /app/model/
ENV PATH=/app/.venv/bin:$PATH \
    MODEL_PATH=/app/model/model.pkl \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['PORT']}/health\", timeout=2)"]
CMD ["python", "-m", "tabular_mlops.serving.app"]
