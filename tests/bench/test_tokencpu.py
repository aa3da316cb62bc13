"""``python -m bench tokencpu``: the token paths measured in process, statement by statement."""

from __future__ import annotations

from bench import tokencpu


def test_the_token_paths_are_measured_with_their_statements_and_commits():
    result = tokencpu.measure(requests=2, revocations=1)
    counted = {name: (row["statements"], row["commits"]) for name, row in result["per_request"].items()}
    assert counted == {"GET /userinfo": (1, 0), "POST /introspect": (2, 0), "POST /token": (4, 1),
                       "POST /token (code)": (4, 1), "GET /healthz": (0, 0), "POST /revoke": (4, 1)}
    assert all(row["cpu_ms_best"] > 0 for row in result["per_request"].values())
    assert "| `GET /userinfo` | 1 | 0 |" in tokencpu.markdown(result)
