"""Log lines carry the request id, and are JSON when asked."""

from __future__ import annotations

import json
import logging

from idp.logs import JsonFormatter, RequestIdFilter
from tests.support.browser import submit


def test_json_log_line_holds_the_request_id_of_the_request(app, browser):
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    keep.addFilter(RequestIdFilter())
    logging.getLogger("idp.audit").addHandler(keep)
    try:
        response = browser.get("/login", headers={"X-Request-Id": "req-12345678"})
        submit(browser, response, "/login", document="12345678Z", password="x")
    finally:
        logging.getLogger("idp.audit").removeHandler(keep)
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["logger"] == "idp.audit" and line["request_id"] != "-"
    assert "password" not in line["message"]


def test_incoming_request_id_is_echoed_when_well_formed(app, browser):
    echoed = browser.get("/healthz", headers={"X-Request-Id": "abc-12345678"})
    assert echoed.headers["X-Request-Id"] == "abc-12345678"
    replaced = browser.get("/healthz", headers={"X-Request-Id": "<script>"})
    assert replaced.headers["X-Request-Id"] != "<script>"
