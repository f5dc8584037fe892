# incident-operator image: build a virtualenv in one stage, copy only it into a slim runtime.
#   docker build -t incident-operator:dev .        (or `make image`: podman, no Docker, no
#                                                   registry; docs/image.md)
#   kind load docker-image incident-operator:dev
#   helm install incident-operator charts/incident-operator -n incident-operator --create-namespace \
#     --set image.repository=incident-operator --set image.tag=dev --set image.pullPolicy=Never
# The base is pinned to an exact patch release of the Python the test suite runs on; pin it by
# digest (python:3.11.14-slim-bookworm@sha256:...) in a release pipeline. `make image` passes
# a Debian bookworm + python3 base built locally instead (any base with `python` 3.11 on PATH
# and its venv module works).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
# Every dependency at the version the tests ran with; EXTRAS=plot draws the postmortem charts
# (matplotlib and numpy: about 150 MB of the image; EXTRAS= builds without, and postmortems
# then carry no charts). Installed against an empty stand-in package, in a layer of their
# own: a change to the operator's code reuses it and only reinstalls the operator below.
# Not shipped, since nothing in the operator loads them: the dependencies' own test suites and
# kubernetes.aio (the client's asyncio copy, 70 MB; the operator uses kubernetes.client).
ARG EXTRAS=plot
RUN mkdir -p operator/incident_operator && touch operator/incident_operator/__init__.py \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-compile -c constraints.txt ".${EXTRAS:+[$EXTRAS]}" \
 && /opt/venv/bin/pip uninstall -y incident-operator \
 && site="$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
 && find "$site" -mindepth 2 -type d -name tests -prune -exec rm -rf {} + \
 && rm -rf "$site/kubernetes/aio" \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
 && rm -rf operator build
COPY operator ./operator
# The entry point must still import everything it needs after the pruning above.
RUN /opt/venv/bin/pip install --no-compile --no-deps . \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
 && /opt/venv/bin/pip uninstall -y pip setuptools wheel \
 && /opt/venv/bin/incident-operator run --help >/dev/null

FROM ${PYTHON_IMAGE}
# No compilers, no pip: the runtime gets the finished virtualenv and nothing else (a base
# whose Python has no pip, like Debian's, has nothing to uninstall).
RUN if python -m pip --version >/dev/null 2>&1; then python -m pip uninstall -y pip setuptools wheel; fi \
 && rm -rf /root/.cache /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib
# The chart runs it with runAsUser 65532 and a read-only root filesystem (/tmp is an emptyDir).
USER 65532:65532
# 8080: kopf liveness (/healthz); 8081: /metrics, /status, /alertmanager, /slack/*
EXPOSE 8080 8081
ENTRYPOINT ["incident-operator", "run"]
