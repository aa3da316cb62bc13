"""The README's configuration table and ``idp.settings`` say the same thing."""

from __future__ import annotations

import re
from pathlib import Path

from demo_rp.settings import DEFAULTS as DEMO_RP_DEFAULTS
from idp.settings import SETTINGS, load

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_configuration_table_lists_every_setting_with_its_default():
    rows = dict(re.findall(r"^\| `(IDP_[A-Z0-9_]+)` \| ([^|]+) \|", README.read_text(), re.M))
    assert set(rows) == {setting.name for setting in SETTINGS}
    for setting in SETTINGS:
        expected = f"`{setting.default}`" if setting.default != "" else "(empty)"
        assert rows[setting.name].strip() == expected, setting.name


def test_readme_demo_rp_table_lists_every_setting_with_its_default():
    rows = dict(re.findall(r"^\| `(DEMO_RP_[A-Z0-9_]+)` \| ([^|]+) \|", README.read_text(), re.M))
    assert set(rows) == set(DEMO_RP_DEFAULTS)
    for name, default in DEMO_RP_DEFAULTS.items():
        assert rows[name].strip() == (f"`{default}`" if default else "(empty)"), name


def test_environment_values_are_parsed_to_the_setting_type():
    values = load({"IDP_OTP_TTL": "120", "IDP_SECURE_COOKIES": "true", "IDP_ISSUER": "https://x/"})
    assert values["IDP_OTP_TTL"] == 120
    assert values["IDP_SECURE_COOKIES"] is True
    assert values["IDP_ISSUER"] == "https://x"
