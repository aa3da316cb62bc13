"""The access log never records query strings (DNIs in ``login_hint``, ID tokens), under
either server ``idp serve`` offers."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests
from gunicorn.config import Config
from gunicorn.glogging import Logger

from idp.serving import ACCESS_LOG_FORMAT, SERVERS, AccessLog
from tests.support.live import start_idp


def test_access_log_lines_hold_the_path_and_request_id_but_no_query_string():
    config = Config()
    config.set("access_log_format", ACCESS_LOG_FORMAT)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/authorize?login_hint=12345678Z",
               "PATH_INFO": "/authorize", "QUERY_STRING": "login_hint=12345678Z",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "192.0.2.1",
               "HTTP_REFERER": "https://rp.example/?id_token_hint=eyJ"}
    response = SimpleNamespace(status="302 FOUND", sent=0,
                               headers=[("X-Request-Id", "req-12345678")])
    atoms = Logger(config).atoms(response, [], environ, timedelta(milliseconds=5))

    line = config.access_log_format % atoms

    assert "/authorize" in line and "req-12345678" in line
    assert "12345678Z" not in line and "id_token_hint" not in line


def test_granian_access_lines_have_gunicorns_layout_without_the_query_string():
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/authorize", "QUERY_STRING": "login_hint=12345678Z",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "192.0.2.1", "HTTP_USER_AGENT": "Firefox",
               "HTTP_REFERER": "https://rp.example/?id_token_hint=eyJ"}

    line = AccessLog.line(environ, "302 FOUND", [("Content-Length", "0"), ("X-Request-Id", "req-12345678")])

    assert re.fullmatch(r'192\.0\.2\.1 \[[^]]+] "GET /authorize HTTP/1\.1" 302 0 "Firefox" req-12345678',
                        line)


@pytest.mark.parametrize("server", SERVERS)
def test_a_served_idp_logs_each_request_without_its_query_string(tmp_path, server):
    idp = start_idp(tmp_path, server=server)
    try:
        answer = requests.get(f"{idp.url}/authorize", timeout=10,
                              params={"login_hint": "12345678Z", "client_id": "nobody"})
        request_id = answer.headers["X-Request-Id"]
        idp.stop()  # flushes the log
        lines = (tmp_path / f"access-{idp.port}.log").read_text().splitlines()
    finally:
        idp.stop()
    logged = next(line for line in lines if request_id in line)
    assert f'"GET /authorize HTTP/1.1" {answer.status_code} ' in logged
    assert "12345678Z" not in "\n".join(lines) and "login_hint" not in "\n".join(lines)
