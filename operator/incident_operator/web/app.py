"""The operator's one aiohttp application; handlers/web_server.py runs it on kopf's loop."""

from __future__ import annotations

from aiohttp import web

from .alertmanager import PATH as ALERTMANAGER_PATH
from .alertmanager import AlertmanagerWebhook
from .metrics import PATH as METRICS_PATH
from .metrics import MetricsEndpoint
from .slack import SlackEndpoints
from .status_page import StatusPageEndpoints


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
    app.router.add_get("/healthz", healthz)
    if metrics is not None:
        app.router.add_get(METRICS_PATH, metrics.handle)
    if status_page is not None:
        status_page.add_routes(app)
    if slack is not None:
        # Unconfigured, the routes answer 503 (not 404): Slack shows the admin what is wrong.
        app.add_routes(slack.routes())
        app.on_cleanup.append(lambda _: slack.close())
    return app
