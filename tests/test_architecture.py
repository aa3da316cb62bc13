"""The shape of the code: which modules may import which (read from their source, imports
inside functions included), and names that are spelled in one place only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "idp"
# Modules of the domain: what a citizen's Cl@ve is, whatever protocol or page uses it.
DOMAIN = ("idp.assurance", "idp.audit", "idp.citizens", "idp.documents", "idp.flow_state",
          "idp.models", "idp.notices", "idp.otp", "idp.passwords", "idp.ratelimit",
          "idp.secrets", "idp.sessions", "idp.sms", "idp.unit_of_work", "idp.user_agents")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))
           if "migrations" not in path.parts}


def imports(module: str) -> set[str]:
    """Every module ``module`` imports: ``from a.b import c`` counts as ``a.b.c`` when that
    is a module, else as ``a.b``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def offenders(modules: list[str], forbidden) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    found = {module: sorted(name for name in imports(module) if forbidden(name)) for module in modules}
    return {module: names for module, names in found.items() if names}


def test_the_import_reader_sees_imports_inside_functions_and_from_packages():
    assert {"idp.flows.mobile", "idp.oidc.interaction"} <= imports("idp.flows.login")
    assert "idp.oidc.interaction" in imports("idp.oidc")


def test_flows_reach_the_protocol_only_through_the_interaction_front_door():
    flows = [name for name in MODULES if within(name, "idp.flows")]
    assert len(flows) > 10
    assert offenders(flows, lambda name: within(name, "idp.oidc")
                     and name != "idp.oidc.interaction") == {}


def test_no_module_outside_the_protocol_imports_an_endpoint():
    outside = [name for name in MODULES if not within(name, "idp.oidc")]
    assert offenders(outside, lambda name: within(name, "idp.oidc.endpoints")) == {}


@pytest.mark.parametrize("module", DOMAIN)
def test_domain_modules_import_neither_the_protocol_nor_the_pages(module):
    assert offenders([module], lambda name: within(name, "idp.oidc") or within(name, "idp.flows")
                     or within(name, "idp.mobile")) == {}


def test_the_mobile_api_imports_no_flow():
    mobile = [name for name in MODULES if within(name, "idp.mobile")]
    assert offenders(mobile, lambda name: within(name, "idp.flows")) == {}


def test_the_signature_service_reaches_the_protocol_only_to_authenticate_clients():
    firma = [name for name in MODULES if within(name, "idp.firma")]
    assert offenders(firma, lambda name: within(name, "idp.oidc")
                     and name != "idp.oidc.client_auth") == {}
    assert [name for name in firma if "idp.oidc.client_auth" in imports(name)] == ["idp.firma.api"]


def test_the_signature_service_imports_no_page_and_the_pages_no_api():
    firma = [name for name in MODULES if within(name, "idp.firma")]
    assert offenders(firma, lambda name: within(name, "idp.flows") or within(name, "idp.mobile")) == {}
    flows = [name for name in MODULES if within(name, "idp.flows")]
    assert offenders(flows, lambda name: name == "idp.firma.api") == {}


def spelled_in(text: str) -> list[str]:
    return sorted(name for name, path in MODULES.items() if text in path.read_text(encoding="utf-8"))


def test_the_session_key_of_pending_requests_is_spelled_once():
    assert spelled_in('"interactions"') == ["idp.oidc.interaction"]


def test_the_protocol_names_none_of_the_pages_that_answer_it():
    for endpoint in ('"login.start"', '"consent.show"'):
        assert not [name for name in spelled_in(endpoint) if within(name, "idp.oidc")]
