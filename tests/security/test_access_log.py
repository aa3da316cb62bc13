"""The access log never records query strings (DNIs in ``login_hint``, ID tokens)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config
from gunicorn.glogging import Logger

from idp.serving import ACCESS_LOG_FORMAT


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
