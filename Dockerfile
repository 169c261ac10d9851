# modelhealthd: one image for the daemon (`modelhealthd run`) and the reference model server
# (`modelhealthd serve`). deploy/compose.yaml runs both with Prometheus, Alertmanager and Grafana.
#
#   docker build -t modelhealthd .
#   docker run --rm modelhealthd --help
#
# torch is installed first and pinned, as on a host: left to itself pip may pick a GPU build
# of several GB. Set TORCH_INDEX to PyTorch's CPU wheel index to keep the image small.
FROM python:3.11-slim-bookworm

ARG TORCH_SPEC=torch==2.13.0
ARG TORCH_INDEX=
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DO_NOT_TRACK=1 \
    MODELHEALTHD_CONFIG=/etc/modelhealthd/config.yaml \
    PATH=/opt/modelhealthd/venv/bin:$PATH

RUN python -m venv /opt/modelhealthd/venv \
 && pip install ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} "$TORCH_SPEC"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY rules ./rules
COPY reoptimize ./reoptimize
COPY serving ./serving
RUN pip install . && rm -rf /src

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/modelhealthd --create-home modelhealthd \
 && mkdir -p /etc/modelhealthd
COPY deploy/config.example.yaml /etc/modelhealthd/config.yaml

USER modelhealthd
WORKDIR /var/lib/modelhealthd
VOLUME ["/var/lib/modelhealthd"]
# 9108: the daemon's API and /metrics; 8080: the model server.
EXPOSE 9108 8080
ENTRYPOINT ["modelhealthd"]
CMD ["run", "--config", "/etc/modelhealthd/config.yaml"]
