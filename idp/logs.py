"""Logging: every line carries the request id; JSON lines when ``IDP_LOG_JSON`` is set."""

from __future__ import annotations

import json
import logging
import sys

from flask import Flask, g, has_app_context

HANDLER_NAME = "idp"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # g lives in the app context: the layers that answer in front of Flask set it too.
        record.request_id = g.get("request_id", "-") if has_app_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                 "logger": record.name, "request_id": getattr(record, "request_id", "-"),
                 "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(app: Flask) -> None:
    """One handler for the ``idp`` loggers (replaced, not added, when apps are rebuilt)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if app.config["IDP_LOG_JSON"] else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    logger = logging.getLogger("idp")
    logger.handlers = [h for h in logger.handlers if h.get_name() != HANDLER_NAME] + [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
