"""``make run`` (scripts/run-demo.sh) driven for real: ports, refusals, the ready banner, and
stopping both servers together. Each run works in a temporary directory, so the developer's
``instance/`` and ``keys/`` are never touched."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.live import BIN, free_port

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "run-demo.sh"
BANNER = "Stop with Ctrl-C."
pytestmark = pytest.mark.xdist_group("run-demo")


def demo_environment(**variables: str) -> dict[str, str]:
    """This environment without any IDP_* or DEMO_RP_* setting of the developer's."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "DEMO_RP_"))}
    return {**clean, "PATH": f"{BIN}{os.pathsep}{clean['PATH']}", **variables}


@dataclass
class Demo:
    process: subprocess.Popen
    output: Path
    idp_port: int
    rp_port: int

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def server(self, command: str) -> int:
        """The process the script started as ``command`` (Linux /proc lists its children)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return next(int(pid) for pid in children.split()
                    if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1].endswith(command.encode()))

    def stopped_entirely(self, timeout: float = 30) -> bool:
        """Whether the script and every process it started are gone (the whole group)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.1)
        return False


def start_demo(folder: Path) -> Demo:
    """The script in its own process group (as a terminal runs it), on two free ports."""
    idp_port, rp_port = free_port(), free_port()
    output = folder / "run-demo.log"
    with output.open("w") as log:
        process = subprocess.Popen(
            [str(SCRIPT)], cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env=demo_environment(IDP_PORT=str(idp_port), DEMO_RP_PORT=str(rp_port)))
    demo = Demo(process, output, idp_port, rp_port)
    deadline = time.monotonic() + 120
    while BANNER not in demo.text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(demo)
            raise AssertionError(f"make run did not start:\n{demo.text()}")
        time.sleep(0.1)
    return demo


def stop(demo: Demo) -> None:
    if demo.process.poll() is None:
        os.killpg(demo.process.pid, signal.SIGINT)
        ended(demo)
    assert demo.stopped_entirely(), what_is_left(demo) + demo.text()


def ended(demo: Demo, timeout: float = 60) -> int:
    """The script's exit status; if it does not end in time, what its group was doing is
    the failure's message, and the group is killed so that no process outlives the test."""
    try:
        return demo.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        left = what_is_left(demo)
        os.killpg(demo.process.pid, signal.SIGKILL)
        demo.process.wait()
        raise AssertionError(f"run-demo.sh did not end within {timeout} s:\n{left}\n{demo.text()}") from None


def what_is_left(demo: Demo) -> str:
    """The processes of the demo's group, and where each one's threads are, when py-spy is
    installed (``make bench`` installs it)."""
    group = subprocess.run(["ps", "-o", "pid,ppid,stat,etime,args", "-g", str(demo.process.pid)],
                           capture_output=True, text=True).stdout
    spy = BIN / "py-spy"
    for line in group.splitlines()[1:] if spy.exists() else ():
        pid = line.split()[0]
        dump = subprocess.run([str(spy), "dump", "--pid", pid], capture_output=True, text=True)
        group += f"\n--- {pid}\n{dump.stdout}{dump.stderr}"
    return group


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Demo]:
    """A demo for one test, whose processes are gone after it however the test ended."""
    demo = start_demo(tmp_path)
    yield demo
    try:
        os.killpg(demo.process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the whole group has ended, as it should have
    demo.process.wait()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    running = start_demo(tmp_path_factory.mktemp("run-demo"))
    yield running
    stop(running)


@pytest.mark.parametrize("variable", ["IDP_PORT", "DEMO_RP_PORT"])
def test_a_port_in_use_is_refused_before_anything_starts(tmp_path, variable):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = "DEMO_RP_PORT" if variable == "IDP_PORT" else "IDP_PORT"
        result = subprocess.run([str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                                env=demo_environment(**{variable: str(port), other: str(free_port())}))

    assert result.returncode != 0
    assert f"port {port} ({variable}) is already in use" in result.stderr
    assert f"{variable}=" in result.stderr  # how to choose another
    assert BANNER not in result.stdout
    assert not (tmp_path / "instance").exists()  # nothing was started, not even the database


def test_both_servers_answer_on_the_ports_chosen(demo):
    assert requests.get(f"http://127.0.0.1:{demo.idp_port}/healthz", timeout=10).status_code == 200
    assert requests.get(f"http://127.0.0.1:{demo.rp_port}/", timeout=10).status_code == 200
    assert f"http://127.0.0.1:{demo.rp_port}" in demo.text()


def test_the_issuer_carries_the_idp_port(demo):
    document = requests.get(f"http://127.0.0.1:{demo.idp_port}/.well-known/openid-configuration",
                            timeout=10).json()
    assert document["issuer"] == f"http://127.0.0.1:{demo.idp_port}"


def test_the_demo_rp_s_login_is_accepted_by_the_idp(demo):
    with requests.Session() as browser:
        start = browser.get(f"http://127.0.0.1:{demo.rp_port}/login", timeout=10, allow_redirects=False)
        assert start.headers["Location"].startswith(f"http://127.0.0.1:{demo.idp_port}/authorize?")
        login_page = browser.get(start.headers["Location"], timeout=10)

    assert login_page.status_code == 200
    assert 'name="document"' in login_page.text  # the login form, not an error page


def test_ctrl_c_stops_both_servers_and_the_script_cleanly(started):
    demo = started
    os.killpg(demo.process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group

    assert ended(demo) == 0
    assert demo.stopped_entirely(), what_is_left(demo) + demo.text()
    assert "Segmentation fault" not in demo.text()
    for port in (demo.idp_port, demo.rp_port):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=5)


def test_when_one_server_dies_the_other_is_stopped_too(started):
    demo = started
    idp, rp = demo.server("/idp"), demo.server("/idp-demo-rp")
    os.kill(idp, signal.SIGKILL)

    assert ended(demo) != 0
    assert "a server stopped" in demo.text()
    assert demo.stopped_entirely(), what_is_left(demo) + demo.text()
    with pytest.raises(ProcessLookupError):
        os.kill(rp, 0)
