"""The operator's one aiohttp application; handlers/web_server.py runs it on kopf's loop."""

from __future__ import annotations

import logging

from aiohttp import web

from .alertmanager import PATH as ALERTMANAGER_PATH
from .alertmanager import AlertmanagerWebhook
from .metrics import PATH as METRICS_PATH
from .metrics import MetricsEndpoint
from .slack import SlackEndpoints
from .status_page import StatusPageEndpoints

HEALTHZ_PATH = "/healthz"


class RoutineProbes(logging.Filter):
    """Drops aiohttp's access lines for answered liveness probes and metrics scrapes (INFO).

    The kubelet probes ``/healthz`` every few seconds and Prometheus scrapes ``/metrics``:
    a line each, all day, buries what happened. Failed ones (status >= 400) stay, as do
    status-page, Alertmanager and Slack requests; ``--verbose`` keeps everything.
    """

    PATHS = (HEALTHZ_PATH, METRICS_PATH)

    def filter(self, record: logging.LogRecord) -> bool:
        line = str(getattr(record, "first_request_line", ""))
        status = getattr(record, "response_status", 500)
        method, _, rest = line.partition(" ")
        path = rest.split(" ", 1)[0].split("?", 1)[0]
        routine = (
            record.levelno == logging.INFO
            and method == "GET"
            and path in self.PATHS
            and isinstance(status, int)
            and status < 400
        )
        return not routine


async def healthz(_: web.Request) -> web.Response:
    """The HTTP server answers (kopf's own probe, on its own port, covers the operator)."""
    return web.json_response({"status": "ok"})


def build_app(
    *,
    alertmanager: AlertmanagerWebhook,
    metrics: MetricsEndpoint | None = None,
    status_page: StatusPageEndpoints | None = None,
    slack: SlackEndpoints | None = None,
) -> web.Application:
    """``metrics``/``status_page`` None: no such routes (404), e.g. in tests of the others."""
    # The webhook streams its body with its own limit and JSON error; this is the backstop.
    app = web.Application(client_max_size=alertmanager.max_body + 1)
    app.router.add_post(ALERTMANAGER_PATH, alertmanager.handle)
    app.router.add_get(HEALTHZ_PATH, healthz)
    if metrics is not None:
        app.router.add_get(METRICS_PATH, metrics.handle)
    if status_page is not None:
        status_page.add_routes(app)
    if slack is not None:
        # Unconfigured, the routes answer 503 (not 404): Slack shows the admin what is wrong.
        app.add_routes(slack.routes())
        app.on_cleanup.append(lambda _: slack.close())
    return app
