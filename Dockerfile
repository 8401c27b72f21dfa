# CPU image for the worker, scheduler, dashboard and one-shot jobs (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
WORKDIR /app

# The CPU build of torch first, so the project's torch range is already met and no CUDA wheels come in.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"

COPY pyproject.toml README.md alembic.ini ./
COPY monitor ./monitor
COPY migrations ./migrations
COPY dashboard ./dashboard
RUN pip install -e .

RUN useradd --create-home --uid 10001 monitor && mkdir -p /models && chown monitor /models
USER monitor
EXPOSE 8501 9108
CMD ["monitor", "--help"]
