"""Run the operator's aiohttp application (web/) on kopf's event loop, for kopf's lifetime.

The application is composed in app/ (handlers may not import web/) and handed over in the
operator context (``web_app``); this module only starts and stops it.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from aiohttp import web

from .context import context_of

IDLE_TIMEOUT = 30.0
"""Seconds a connection may sit without a complete request before it is closed. aiohttp arms
this from the connection's start, so it also bounds a client trickling its request headers
(its default, 3630 s, would let a few hundred such clients hold the server's sockets); the
body's own read timeout is web/body.py's."""


@kopf.on.startup()
async def start_web_server(
    memo: kopf.Memo, logger: logging.Logger | logging.LoggerAdapter[Any], **_: Any
) -> None:
    context = context_of(memo)
    app, listen = context.web_app, context.http_listen
    if app is None or listen is None:
        logger.info("HTTP server disabled.")
        return
    runner = web.AppRunner(app, keepalive_timeout=IDLE_TIMEOUT)
    await runner.setup()
    try:
        await web.TCPSite(runner, *listen).start()
    except OSError as exc:
        await runner.cleanup()
        message = f"cannot listen on {listen[0]}:{listen[1]}: {exc.strerror or exc}"
        if context.alertmanager_service is not None:
            # Alertmanager was configured to deliver here: running without it would lose alerts.
            raise kopf.PermanentError(message) from exc
        logger.error("%s; running without the HTTP server (nothing is configured on it).", message)
        return
    context.state.web_runner = runner
    logger.info("HTTP server listening on %s", ", ".join(map(str, runner.addresses)))


@kopf.on.cleanup()
async def stop_web_server(memo: kopf.Memo, **_: Any) -> None:
    runner = context_of(memo).state.web_runner
    if runner is not None:
        await runner.cleanup()
