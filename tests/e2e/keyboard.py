"""A citizen with a keyboard and no mouse (WCAG 2.1.1 Keyboard, 2.4.3 Focus Order, 2.4.7
Focus Visible, 2.4.11 Focus Not Obscured).

Every move is a real key press sent to Chromium: Tab forward until the wanted control has
the focus, type into it, Enter to follow or submit. At each Tab stop the focused element is
checked as a sighted keyboard user meets it: it comes after the previous stop in the
document (no jumping back, no leaving the page before the wanted control is reached), it
shows a focus indicator, and it is on screen and not covered by anything else.
"""

from __future__ import annotations

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e import pages

# More Tab presses than any page of the IdP needs to reach its last control.
MAX_TABS = 40

FOCUS_STOP = """
const wanted = arguments[0];
const element = document.activeElement;
const previous = window.__keyboardPrevious || null;
window.__keyboardPrevious = element;
if (!element || element === document.body) { return {left: true}; }
const style = getComputedStyle(element);
const rect = element.getBoundingClientRect();
const x = Math.min(Math.max(rect.left + rect.width / 2, 0), innerWidth - 1);
const y = Math.min(Math.max(rect.top + Math.min(rect.height / 2, 10), 0), innerHeight - 1);
const onTop = document.elementFromPoint(x, y);
return {
  left: false,
  matches: element.matches(wanted),
  name: element.tagName.toLowerCase() + (element.name ? "[name=" + element.name + "]" : "")
        + (element.getAttribute("href") ? "[href=" + element.getAttribute("href") + "]" : "")
        + " " + (element.innerText || element.value || "").trim().slice(0, 40),
  forward: !previous || !document.contains(previous) || previous === element
           || Boolean(previous.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_FOLLOWING),
  indicated: (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2)
             || style.boxShadow !== "none",
  onScreen: rect.bottom > 0 && rect.top < innerHeight && rect.right > 0 && rect.left < innerWidth
            && rect.width > 0 && rect.height > 0,
  uncovered: Boolean(onTop) && (element === onTop || element.contains(onTop)
                                || (element.labels && [...element.labels].some(l => l.contains(onTop)))),
};
"""


class Keyboard:
    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver

    def press(self, *keys: str) -> None:
        ActionChains(self.driver).send_keys(*keys).perform()

    def tab_to(self, selector: str) -> None:
        """Press Tab until the element matching ``selector`` has the focus, checking every
        stop on the way (see the module's docstring)."""
        visited: list[str] = []
        for _ in range(MAX_TABS):
            self.press(Keys.TAB)
            stop = self.driver.execute_script(FOCUS_STOP, selector)
            if stop["left"]:
                raise AssertionError(f"Tab left the page before reaching {selector!r} "
                                     f"at {self.driver.current_url}; it went through {visited}")
            visited.append(stop["name"])
            problems = [what for what, ok in (("comes before the previous stop", stop["forward"]),
                                              ("shows no focus indicator", stop["indicated"]),
                                              ("is off screen", stop["onScreen"]),
                                              ("is covered by another element", stop["uncovered"]))
                        if not ok]
            assert not problems, (f"at {self.driver.current_url} the focused {stop['name']!r} "
                                  f"{' and '.join(problems)}; Tab went through {visited}")
            if stop["matches"]:
                return
        raise AssertionError(f"{MAX_TABS} Tab presses never reached {selector!r} at "
                             f"{self.driver.current_url}; they went through {visited}")

    def type_into(self, **fields: str) -> None:
        """Tab to each named field in turn (in the order given, which must be the page's)
        and type its value."""
        for name, value in fields.items():
            self.tab_to(f"[name='{name}']:not([type='hidden'])")
            self.press(value)

    def activate(self, selector: str) -> None:
        """Tab to a link or button and press Enter, staying on the page (a tab, a disclosure)."""
        self.tab_to(selector)
        self.press(Keys.ENTER)

    def go(self, selector: str) -> None:
        """Tab to a link or submit button, press Enter and wait for the page it leads to."""
        self.tab_to(selector)
        pages.leaving_page(self.driver, lambda: self.press(Keys.ENTER),
                           f"the page after pressing Enter on {selector!r}")

    def submit(self, **fields: str) -> None:
        """Fill the fields of the page's form, then Tab to its primary button and press Enter."""
        self.type_into(**fields)
        self.go("button.button-primary[type='submit']")
