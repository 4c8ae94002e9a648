# syntax=docker/dockerfile:1.7
# Multi-stage: `api` has no TensorFlow (it only validates specs and enqueues by task name);
# `worker` adds the Keras backend (TensorFlow with its CUDA libraries by default, or the CPU wheel
# for the compose `cpu` profile). No credentials are baked in: everything comes from the environment.
ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FERBENCH_HOME=/var/lib/ferbench \
    FERBENCH_DATA_DIR=/data
RUN groupadd --gid 10001 ferbench \
 && useradd --uid 10001 --gid ferbench --create-home ferbench \
 && mkdir -p /var/lib/ferbench /data \
 && chown ferbench:ferbench /var/lib/ferbench /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ferbench ferbench
COPY fer_models fer_models
COPY api api
COPY worker worker

FROM base AS api
RUN pip install .
USER ferbench
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --retries=5 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)" || exit 1
CMD ["uvicorn", "api.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--no-server-header"]

FROM base AS worker
# tensorflow[and-cuda] brings CUDA and cuDNN as wheels: the host needs only the NVIDIA driver and
# the container toolkit. The `cpu` compose profile builds with TF_PACKAGE=tensorflow-cpu==2.21.*.
ARG TF_PACKAGE="tensorflow[and-cuda]==2.21.*"
RUN pip install . "${TF_PACKAGE}"
USER ferbench
ENV KERAS_BACKEND=tensorflow
# One process per GPU (TensorFlow frees GPU memory only when its process exits).
CMD ["celery", "-A", "worker.celery_app", "worker", "-Q", "gpu", "-c", "1", "--max-tasks-per-child=1", "--loglevel=INFO"]
