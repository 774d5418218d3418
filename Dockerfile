# syntax=docker/dockerfile:1.7
# The sentiment service (FastAPI on uvicorn, CPU torch), as a non-root user on port 8000.
#
#   docker build --secret id=aws,src=$HOME/.aws/credentials -t sentiment .   # model baked in
#   docker build --target runtime -t sentiment:runtime .                      # model mounted
#
# The default target, `baked`, runs `dvc pull models/sentiment` at build time with the S3
# credentials given as a BuildKit secret (never stored in a layer); set the build argument
# AWS_ENDPOINT_URL_S3 for a store other than AWS. The `runtime` target has no model: mount a
# model folder at /srv/sentiment/models/sentiment (README: "Run it in a container").

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# The virtualenv: CPU torch first (the PyTorch CPU index), then the project with its pins.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv \
    && pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
WORKDIR /src
COPY pyproject.toml constraints.txt ./
COPY sentiment ./sentiment
COPY stages ./stages
RUN pip install --constraint constraints.txt .

# The model of this checkout's dvc.lock, pulled from the DVC remote with a build secret.
FROM build AS model
ARG AWS_ENDPOINT_URL_S3
WORKDIR /repo
COPY .dvc/config .dvc/config
COPY dvc.yaml dvc.lock params.yaml ./
RUN --mount=type=secret,id=aws,target=/root/.aws/credentials,required=true \
    if [ -z "${AWS_ENDPOINT_URL_S3}" ]; then unset AWS_ENDPOINT_URL_S3; fi \
    && dvc config core.no_scm true \
    && dvc pull models/sentiment

# What runs: the virtualenv and nothing else; the model is mounted at run time.
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 \
    SENTIMENT_MODEL=/srv/sentiment/models/sentiment SENTIMENT_HOST=0.0.0.0 \
    SENTIMENT_PORT=8000 SENTIMENT_JSON_ACCESS_LOG=1
RUN groupadd --system --gid 10001 sentiment \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin \
       sentiment
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/sentiment
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['SENTIMENT_PORT'] + '/health', timeout=4)"]
CMD ["sentiment", "serve"]

# The default: the runtime with the model, its dvc.lock and its test metrics baked in
# (owned by root, so the service cannot change them).
FROM runtime AS baked
COPY --from=model /repo/models/sentiment models/sentiment
COPY --from=model /repo/dvc.lock dvc.lock
COPY reports/metrics.json reports/metrics.json
