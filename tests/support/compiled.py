"""Code every test app compiles the same way, compiled once per worker instead of once per app.

Each test builds its own apps (``tests/conftest.py``: the server and its twin), and a new app
compiled again what the previous one had: werkzeug generates and compiles a Python function
to build each URL rule's URLs (two per rule, some 150 per app: about 15 ms of the 21 ms
``create_app`` took), and Jinja compiles each template the first time the app renders it.
Over the 2,000-odd apps of a run that was a quarter to a third of an ordinary test's CPU.

What is shared is only compiled code, keyed by everything it is generated from; each app
keeps its own rules, converters, template objects and state. A changed template source misses
the cache (Jinja checks the source's checksum).
"""

from __future__ import annotations

from collections.abc import Callable

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from werkzeug.routing.rules import Rule


class SharedTemplates(BytecodeCache):
    """Jinja's bytecode cache, in memory, for apps whose Jinja environments are configured
    alike (every ``build_app``: the same ``create_app``); Jinja keys it by template name and
    file and checks the source's checksum."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = SharedTemplates()


def _share_url_builders() -> None:
    """``Rule._compile_builder`` returns a function generated from the rule's text, its parsed
    parts (``_trace``) and ``append_unknown``; the rule itself (its converters) is bound at each
    call, so rules with the same text and parts can share it. Rules with defaults (whose
    values the generated code may hold, converted) compile their own as before."""
    compile_builder: Callable = Rule._compile_builder  # type: ignore[type-arg]
    builders: dict[tuple, Callable] = {}  # type: ignore[type-arg]

    def shared(self: Rule, append_unknown: bool = True) -> Callable:  # type: ignore[type-arg]
        if self.defaults:
            return compile_builder(self, append_unknown)
        key = (self.rule, tuple(self._trace), append_unknown)
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    Rule._compile_builder = shared  # type: ignore[method-assign]


_share_url_builders()
