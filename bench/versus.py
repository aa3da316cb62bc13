"""The side-by-side run: our server and node-oidc-provider, one core each, in the same run.

Every contender (our server on each database, with one worker; the peer, one Node.js
process) is started on the same core set and stays up; the load generator keeps to the
other cores. Flow by flow, the contenders take turns (ours, peer, ours, peer, … for each
repeat), so a neighbour of this virtual machine that comes or goes touches them alike; the
median of each one's repeats is its figure. Then each runs once more open-loop at half its
own saturated rate, for its latencies. A local PostgreSQL server is pinned with the server
that uses it (one core for the whole of our side) and its CPU time counted with it.

A contender is anything with the methods of ``Contender``: a serving stack or a database is
one more ``Ours`` with its own deployment or ``serve_args``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench import load
from bench.cores import Split, generator_on, pin_tree
from bench.deploy import Deployment, children, cpu_seconds
from bench.peer import PeerServer
from bench.peerflow import PeerLogin
from bench.peerflow import target as peer_target
from bench.scenarios import Get, Login, Refresh, Target, UserInfo

# Taken in this order: logins issue the tokens UserInfo uses and refresh uses up.
ROUNDS: tuple[tuple[str, ...], ...] = (("discovery",), ("jwks",), ("login", "login_low"),
                                       ("userinfo",), ("refresh",))
# The peer's flow each of ours is compared with (it has no second factor: see the report).
PEER_FLOW = {"discovery": "discovery", "jwks": "jwks", "login": "login", "login_low": "login",
             "userinfo": "userinfo", "refresh": "refresh"}
# Connections at once, the same for every contender: enough to keep a core busy while
# requests travel to and from the generator's core (our one worker queues what its 4 threads
# cannot take). Logins need fewer (argon2id keeps the core busy) and each takes long: more
# would only queue, and a short run would see few of them end.
CONCURRENCY = 8
LOGIN_CONCURRENCY = 4


def concurrency(flow: str) -> int:
    return LOGIN_CONCURRENCY if flow.startswith("login") else CONCURRENCY


class Contender(Protocol):
    key: str
    label: str
    kind: str  # "ours" or "peer"
    flows: dict[str, load.Scenario]

    def start(self, cpus: Sequence[int] | None) -> None: ...
    def stop(self) -> None: ...
    def cpu_seconds(self) -> float: ...
    def memory(self) -> dict[str, Any]: ...
    def describe(self) -> dict[str, Any]: ...


def _documents(target: Target, jwks_path: str) -> dict[str, load.Scenario]:
    return {"discovery": Get(target.host, target.port, "discovery", "/.well-known/openid-configuration"),
            "jwks": Get(target.host, target.port, "jwks", jwks_path)}


@dataclass
class Ours:
    """``idp serve --workers 1`` of a prepared deployment."""

    key: str
    label: str
    deployment: Deployment
    target: Target
    low_target: Target  # a client whose default level is low: password only
    notes: dict[str, Any] = field(default_factory=dict)  # database, pool, …
    serve_args: tuple[str, ...] = ()
    database_pid: int | None = None  # a local PostgreSQL server, pinned with ours
    kind: str = "ours"

    def __post_init__(self) -> None:
        self.flows = {**_documents(self.target, "/jwks.json"), "login": Login(self.target),
                      "login_low": Login(self.low_target, second_factor=False),
                      "userinfo": UserInfo(self.target), "refresh": Refresh(self.target)}
        self._database_cpus: set[int] | None = None

    def start(self, cpus: Sequence[int] | None) -> None:
        self.deployment.start(1, cpus, self.serve_args)
        if self.database_pid and cpus:
            self._database_cpus = os.sched_getaffinity(self.database_pid)
            pin_tree(self.database_pid, cpus)

    def stop(self) -> None:
        self.deployment.stop()
        if self.database_pid and self._database_cpus:
            pin_tree(self.database_pid, sorted(self._database_cpus))

    def cpu_seconds(self) -> float:
        database = 0.0
        if self.database_pid:
            database = cpu_seconds([self.database_pid, *children(self.database_pid)])
        return self.deployment.server_cpu_seconds() + database

    def memory(self) -> dict[str, Any]:
        return self.deployment.memory()

    def describe(self) -> dict[str, Any]:
        return {"label": self.label, "kind": self.kind, "workers": 1, "serve_args": list(self.serve_args),
                "database_pinned_with_server": bool(self._database_cpus), **self.notes,
                "signatures_per_token_response": self.target.signatures_per_response}


@dataclass
class Peer:
    """node-oidc-provider, one process; its scenarios need its discovery, so they come at start."""

    server: PeerServer
    key: str = "peer"
    label: str = "node-oidc-provider"
    kind: str = "peer"
    flows: dict[str, load.Scenario] = field(default_factory=dict)

    def start(self, cpus: Sequence[int] | None) -> None:
        self.server.start(cpus)
        discovery = self.server.discovery()
        target = peer_target("127.0.0.1", self.server.port, discovery)
        jwks = discovery["jwks_uri"].removeprefix(self.server.base)
        self.flows = {**_documents(target, jwks), "login": PeerLogin(target),
                      "userinfo": UserInfo(target), "refresh": Refresh(target, login=PeerLogin)}

    def stop(self) -> None:
        self.server.stop()

    def cpu_seconds(self) -> float:
        return self.server.cpu_seconds()

    def memory(self) -> dict[str, Any]:
        return self.server.memory()

    def describe(self) -> dict[str, Any]:
        return {"label": self.label, "kind": self.kind, **self.server.installed.describe()}


def ratio(ours: float | None, peer: float | None) -> float | None:
    """Our throughput over the peer's, to two places; None unless both were measured."""
    if not ours or not peer:
        return None
    return round(ours / peer, 2)


def run(contenders: list[Contender], *, repeats: int, warmup: float, seconds: float,
        split: Split | None, log: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {"pinning": split.describe() if split else None, "concurrency": CONCURRENCY,
                           "login_concurrency": LOGIN_CONCURRENCY, "repeats": repeats,
                           "seconds": seconds, "contenders": {}, "flows": {}}
    started: list[Contender] = []
    try:
        for contender in contenders:
            try:
                contender.start(split.server if split else None)
            except Exception as error:
                if contender.kind == "ours":
                    raise
                out["absent"] = {"status": "absent", "reason": f"it did not start: {error}"}
                log(f"peer not measured: {out['absent']['reason']}")
                continue
            started.append(contender)
        with generator_on(split.generator if split else None):
            for names in ROUNDS:
                _round(out["flows"], [(c, n) for n in names for c in started if n in c.flows],
                       repeats, warmup, seconds, log)
        for contender in started:
            out["contenders"][contender.key] = {**contender.describe(), "memory": contender.memory()}
    finally:
        for contender in started:
            contender.stop()
    return out


def _fresh_chains(scenario: load.Scenario) -> None:
    """A new refresh-token chain for every thread of the next run, the same way for every
    contender (the peer forgets unused tokens, see ``Refresh.ensure_chains``)."""
    if isinstance(scenario, Refresh):
        scenario.ensure_chains(CONCURRENCY, seconds=60, fresh=True)


def _round(flows: dict[str, Any], slots: list[tuple[Contender, str]], repeats: int, warmup: float,
           seconds: float, log: Callable[[str], None]) -> None:
    runs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for _ in range(repeats):
        for contender, name in slots:
            _fresh_chains(contender.flows[name])
            runs[contender.key, name].append(load.saturate(
                contender.flows[name], concurrency(name), warmup, seconds, contender.cpu_seconds))
    for contender, name in slots:
        entry = {"saturation": load.median_run(runs[contender.key, name])}
        rate = entry["saturation"]["throughput"] / 2
        if rate > 0:
            _fresh_chains(contender.flows[name])
            entry["half"] = load.open_loop(contender.flows[name], rate, concurrency(name), warmup,
                                           seconds, contender.cpu_seconds)
        flows.setdefault(name, {})[contender.key] = entry
        sat, half = entry["saturation"], entry.get("half") or {}
        log(f"  1 core  {contender.key:<10} {name:<10} {sat['throughput']:>8}/s  "
            f"half-load p99 {half.get('latency_ms', {}).get('p99', '–')} ms  errors {sat['errors']}")
