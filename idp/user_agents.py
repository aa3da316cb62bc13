"""Pure: a browser's user agent as a citizen recognises it ("Firefox on Windows"), for the
account page's sessions and for the Cl@ve app's view of where a request comes from."""

from __future__ import annotations

# First match wins: an Edge user agent also names Chrome and Safari, Android names Linux.
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
             ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def describe_device(user_agent: str | None) -> tuple[str | None, str | None]:
    """(browser, operating system) as a citizen recognises them, None where unknown."""
    agent = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in agent), None)
    return browser, system
