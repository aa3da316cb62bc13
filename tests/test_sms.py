"""Every SMS backend honours the ``SmsGateway`` protocol, and fails loudly when it cannot.

The HTTP backend is driven against a real local HTTP server, never a mock, so timeouts,
refused connections and error statuses are the genuine ones ``requests`` meets in production.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from idp.sms import (
    ConsoleSms,
    FileSms,
    HttpSms,
    SmsDeliveryError,
    SmsGateway,
    gateway_from_settings,
    latest_code,
    read_sms_file,
)

PHONE = "+34600111222"
TEXT = "Cl@ve: su código es 482913. Válido 5 minutos."

# How to read back what a backend under test delivered, as (recipient, text) pairs.
Delivered = Callable[[], list[tuple[str, str]]]
CONSOLE_LINE = re.compile(r"^\[SMS to (\S+)\] (.*)$")


@dataclass
class FakeGateway:
    """A real HTTP server on 127.0.0.1 that records what it receives."""

    url: str = ""
    status: int = 200
    slow: bool = False
    received: list[dict] = field(default_factory=list)
    # Released at teardown so a "slow" handler never outlives the test.
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def gateway_server() -> Iterator[FakeGateway]:
    state = FakeGateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(body),
                }
            )
            if state.slow:
                state.release.wait(timeout=10)
                return
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval keeps shutdown() from costing half a second per test.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sms_file(tmp_path: Path) -> Path:
    return tmp_path / "spool" / "sms.jsonl"


def _console_backend(request: pytest.FixtureRequest) -> tuple[SmsGateway, Delivered]:
    capsys = request.getfixturevalue("capsys")

    def delivered() -> list[tuple[str, str]]:
        lines = capsys.readouterr().err.splitlines()
        return [match.groups() for match in map(CONSOLE_LINE.match, lines) if match]

    return ConsoleSms(), delivered


def _file_backend(request: pytest.FixtureRequest) -> tuple[SmsGateway, Delivered]:
    path = request.getfixturevalue("sms_file")
    return FileSms(path), lambda: [(m["to"], m["text"]) for m in read_sms_file(path)]


def _http_backend(request: pytest.FixtureRequest) -> tuple[SmsGateway, Delivered]:
    server = request.getfixturevalue("gateway_server")
    return HttpSms(server.url), lambda: [
        (r["json"]["to"], r["json"]["text"]) for r in server.received
    ]


@pytest.fixture(
    params=[_console_backend, _file_backend, _http_backend], ids=["console", "file", "http"]
)
def backend(request: pytest.FixtureRequest) -> tuple[SmsGateway, Delivered]:
    return request.param(request)


# --- the protocol, for every backend ---------------------------------------------------------


def test_every_backend_delivers_the_message_to_its_recipient(
    backend: tuple[SmsGateway, Delivered],
) -> None:
    gateway, delivered = backend

    gateway.send(PHONE, TEXT)

    assert delivered() == [(PHONE, TEXT)]


# --- console ---------------------------------------------------------------------------------


def test_console_gateway_logs_nothing_through_logging(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")

    ConsoleSms().send(PHONE, TEXT)

    assert caplog.records == []
    assert "482913" in capsys.readouterr().err


# --- file ------------------------------------------------------------------------------------


def test_file_gateway_writes_one_parseable_line_per_message(sms_file: Path) -> None:
    gateway = FileSms(sms_file)

    gateway.send(PHONE, "Código 111111")
    gateway.send("+34600999888", "Código 222222")

    lines = sms_file.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["Código 111111", "Código 222222"]


def test_file_gateway_keeps_non_ascii_text_readable(sms_file: Path) -> None:
    FileSms(sms_file).send(PHONE, TEXT)

    assert "código" in sms_file.read_text(encoding="utf-8")


def test_file_gateway_stamps_each_message_in_utc_with_z(sms_file: Path) -> None:
    FileSms(sms_file).send(PHONE, TEXT)

    (message,) = read_sms_file(sms_file)
    assert message["sent_at"].endswith("Z")
    assert message["sent_at"][:4].isdigit() and "T" in message["sent_at"]


def test_latest_code_picks_the_newest_code_sent_to_a_number(sms_file: Path) -> None:
    gateway = FileSms(sms_file)
    gateway.send(PHONE, "Código 111111")
    gateway.send(PHONE, "Código 222222")
    gateway.send("+34600999888", "Código 333333")

    assert latest_code(sms_file, PHONE) == "222222"
    assert latest_code(sms_file) == "333333"


def test_latest_code_ignores_longer_digit_runs_such_as_phone_numbers(sms_file: Path) -> None:
    FileSms(sms_file).send(PHONE, "Llame al 600111222 si no pidió el código 482913")

    assert latest_code(sms_file, PHONE) == "482913"


def test_latest_code_is_none_before_any_message_to_that_number(sms_file: Path) -> None:
    assert latest_code(sms_file, PHONE) is None
    FileSms(sms_file).send("+34600999888", "Código 333333")
    assert latest_code(sms_file, PHONE) is None


def test_concurrent_appends_leave_only_whole_lines(sms_file: Path) -> None:
    threads, per_thread = 8, 25
    # Long texts make an interleaved write show up as a broken line.
    padding = "x" * 4000
    start = threading.Barrier(threads)

    def send_many(worker: int) -> None:
        gateway = FileSms(sms_file)
        start.wait()
        for i in range(per_thread):
            gateway.send(PHONE, f"{worker:03d}{i:03d} {padding}")

    workers = [threading.Thread(target=send_many, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    messages = read_sms_file(sms_file)
    assert len(messages) == threads * per_thread
    assert {m["text"][:6] for m in messages} == {
        f"{w:03d}{i:03d}" for w in range(threads) for i in range(per_thread)
    }


def test_file_gateway_that_cannot_write_raises_delivery_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")

    with pytest.raises(SmsDeliveryError):
        FileSms(blocker / "sms.jsonl").send(PHONE, TEXT)


# --- http ------------------------------------------------------------------------------------


def test_http_gateway_posts_json_with_the_bearer_token(gateway_server: FakeGateway) -> None:
    HttpSms(gateway_server.url, token="s3cret").send(PHONE, TEXT)

    (request,) = gateway_server.received
    assert request["authorization"] == "Bearer s3cret"
    assert request["content_type"] == "application/json"
    assert request["json"] == {"to": PHONE, "text": TEXT}


def test_http_gateway_without_token_sends_no_authorization(gateway_server: FakeGateway) -> None:
    HttpSms(gateway_server.url).send(PHONE, TEXT)

    assert gateway_server.received[0]["authorization"] is None


def test_http_gateway_that_answers_500_raises_delivery_error(gateway_server: FakeGateway) -> None:
    gateway_server.status = 500

    with pytest.raises(SmsDeliveryError, match="500"):
        HttpSms(gateway_server.url).send(PHONE, TEXT)


def test_http_gateway_that_redirects_raises_delivery_error(gateway_server: FakeGateway) -> None:
    gateway_server.status = 302

    with pytest.raises(SmsDeliveryError):
        HttpSms(gateway_server.url).send(PHONE, TEXT)


def test_http_gateway_delivery_error_never_reveals_the_text(gateway_server: FakeGateway) -> None:
    gateway_server.status = 503

    with pytest.raises(SmsDeliveryError) as caught:
        HttpSms(gateway_server.url).send(PHONE, TEXT)

    assert "482913" not in str(caught.value)


def test_http_gateway_with_nothing_listening_raises_delivery_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(SmsDeliveryError, match="unreachable"):
        HttpSms(f"http://127.0.0.1:{port}/sms").send(PHONE, TEXT)


def test_http_gateway_slower_than_the_timeout_raises_delivery_error(
    gateway_server: FakeGateway,
) -> None:
    gateway_server.slow = True

    with pytest.raises(SmsDeliveryError, match="timed out"):
        HttpSms(gateway_server.url, timeout=0.2).send(PHONE, TEXT)


def test_http_gateway_reuses_a_shared_session(gateway_server: FakeGateway) -> None:
    with requests.Session() as session:
        gateway = HttpSms(gateway_server.url, session=session)
        gateway.send(PHONE, "Código 111111")
        gateway.send(PHONE, "Código 222222")

    texts = [r["json"]["text"] for r in gateway_server.received]
    assert texts == ["Código 111111", "Código 222222"]


# --- configuration ---------------------------------------------------------------------------


def test_console_setting_builds_the_console_gateway() -> None:
    assert isinstance(gateway_from_settings("console"), ConsoleSms)


def test_file_setting_builds_a_file_gateway_on_that_path(tmp_path: Path) -> None:
    gateway = gateway_from_settings(f"file:{tmp_path}/sms.jsonl")

    assert isinstance(gateway, FileSms)
    assert gateway.path == tmp_path / "sms.jsonl"


def test_http_setting_builds_an_http_gateway_with_its_options() -> None:
    gateway = gateway_from_settings(
        "http", http_url="https://sms.example/send", http_token="t", http_timeout=2.5
    )

    assert isinstance(gateway, HttpSms)
    assert (gateway.url, gateway.token, gateway.timeout) == ("https://sms.example/send", "t", 2.5)


def test_http_setting_without_url_is_refused() -> None:
    with pytest.raises(ValueError, match="IDP_SMS_HTTP_URL"):
        gateway_from_settings("http")


@pytest.mark.parametrize("setting", ["", "file:", "smtp", "Console", "https"])
def test_unknown_backend_setting_is_refused(setting: str) -> None:
    with pytest.raises(ValueError, match="IDP_SMS_BACKEND"):
        gateway_from_settings(setting)


_LOADED_AFTER_START = """
import os, sys, tempfile
os.chdir(tempfile.mkdtemp())
from idp import create_app
create_app(IDP_DATABASE_URL="sqlite:///idp.sqlite3", IDP_SECRET_KEY="x", IDP_KEYS_DIR="keys",
           IDP_SMS_BACKEND=sys.argv[1], IDP_SMS_HTTP_URL="https://sms.invalid/send")
print("requests" in sys.modules, "urllib3" in sys.modules)
"""


@pytest.mark.parametrize(("backend", "loaded"), [("file:sms.jsonl", "False False"),
                                                 ("console", "False False"), ("http", "True True")])
def test_only_the_http_gateway_loads_an_http_client_into_a_worker(backend, loaded):
    # requests and urllib3 are about 5 MB of a worker's resident memory (peak target 120 MB).
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _LOADED_AFTER_START, backend],  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split("\n")[-2] == loaded
