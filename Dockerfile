# One Dockerfile, two images (docker-compose.yml): the service image (worker, scheduler, jobs: extras
# "worker,train", with torch) and the dashboard image (extra "dashboard": Streamlit, no torch).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
WORKDIR /app

# The CPU build of torch first, so the project's torch range is already met and no CUDA wheels come in.
# The dashboard image sets TORCH_VERSION to "" and carries no torch at all.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN if [ -n "${TORCH_VERSION}" ]; then pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"; fi

# A regular (non-editable) install: migrations and the dashboard ship inside the package.
ARG EXTRAS=worker,train
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY migrations ./migrations
COPY dashboard ./dashboard
RUN pip install ".[${EXTRAS}]" && rm -rf /app/*

RUN useradd --create-home --uid 10001 monitor && mkdir -p /models && chown monitor /models
USER monitor
EXPOSE 8501 9108
CMD ["monitor", "--help"]
