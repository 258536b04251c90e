"""A real headless Chromium for the web page tests: Debian's ``chromium`` driven by Playwright.

The ``browser`` fixture (session; import ``browser_fixture``) finds Chromium, installs it with apt when
it is missing (skipping only when apt itself is unavailable) and launches it once. A test hands it a
scenario::

    def scenario(page: Page, log: PageLog) -> None: ...
    browser.run(scenario)

The scenario gets a fresh page (a new browser context: no cookies or cache shared between tests) with a
``PAGE_TIMEOUT_MS`` default timeout; ``log`` collects what a user would call broken: console errors,
uncaught page errors, dialogs (``alert`` from injected script) and Content-Security-Policy violations.

Why a thread of its own: Playwright's sync API marks its event loop as running in the thread that
started it, for as long as it lives, so a session-wide browser in pytest's thread would make every
asyncio test that runs after it fail. Every Playwright call happens in the browser's one worker
thread; ``run`` waits for the scenario there and re-raises its failure here.
"""

import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from demo.apt import APT_TIMEOUT_S, AptFailed, AptUnavailable, apt_install

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Playwright

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Without the background-networking flags Chromium hangs on a closed network."""
LAUNCH_TIMEOUT_MS = 30_000
PAGE_TIMEOUT_MS = 5_000
SCENARIO_TIMEOUT_S = 60.0
BROWSER_TEST_TIMEOUT_S = APT_TIMEOUT_S + 120
"""For ``pytest.mark.timeout`` on browser tests: the first one may wait for apt to install Chromium."""
CSP_PREFIX = "CSP violation:"
_REPORT_CSP = (
    "document.addEventListener('securitypolicyviolation', (e) => console.error("
    f"'{CSP_PREFIX} ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')"
    " + ' at line ' + e.lineNumber));"
)

T = TypeVar("T")


@dataclass
class PageLog:
    """What went wrong on a page, as the user (or the browser's console) would see it."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return [*self.console_errors, *self.page_errors, *self.dialogs, *self.csp_violations]

    def console(self, message: "ConsoleMessage") -> None:
        if message.type != "error":
            return
        text = message.text
        if text.startswith(CSP_PREFIX):
            self.csp_violations.append(text)
        else:
            self.console_errors.append(f"console error: {text} ({message.location.get('url', '')})")

    def page_error(self, error: Any) -> None:
        self.page_errors.append(f"uncaught error: {error}")

    def dialog(self, dialog: "Dialog") -> None:
        self.dialogs.append(f"{dialog.type} dialog: {dialog.message}")
        dialog.dismiss()


def find_chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or next((path for path in CHROMIUM_PATHS if Path(path).is_file()), None)


def install_chromium() -> str:
    """Chromium's path, installing Debian's package when it is missing (as root, like CI)."""
    try:
        return apt_install("chromium", find_chromium)
    except AptUnavailable as exc:
        pytest.skip(str(exc))
    except AptFailed as exc:
        pytest.fail(str(exc), pytrace=False)


class Chromium:
    """One headless Chromium, used from its own worker thread (see the module docstring)."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium")
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def start(self) -> None:
        self._thread.submit(self._launch).result(timeout=LAUNCH_TIMEOUT_MS / 1000 + 30)

    def _launch(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable, headless=True, args=CHROMIUM_ARGS, timeout=LAUNCH_TIMEOUT_MS
            )
        except BaseException:
            self._playwright.stop()
            self._playwright = None
            raise

    def run(self, scenario: "Callable[[Page, PageLog], T]", *, timeout_s: float = SCENARIO_TIMEOUT_S) -> T:
        """Run ``scenario`` on a fresh page in the browser's thread; its result, or its exception."""
        future = self._thread.submit(self._scenario, scenario)
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeout:
            pytest.fail(f"the browser scenario did not finish within {timeout_s}s", pytrace=False)

    def _scenario(self, scenario: "Callable[[Page, PageLog], T]") -> T:
        assert self._browser is not None, "Chromium is not running"
        context = self._browser.new_context()
        try:
            context.set_default_timeout(PAGE_TIMEOUT_MS)
            context.add_init_script(_REPORT_CSP)
            log = PageLog()
            page = context.new_page()
            page.on("console", log.console)
            page.on("pageerror", log.page_error)
            page.on("dialog", log.dialog)
            return scenario(page, log)
        finally:
            context.close()

    def close(self) -> None:
        self._thread.submit(self._shutdown).result(timeout=30)
        self._thread.shutdown(wait=True)

    def _shutdown(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None


@pytest.fixture(scope="session", name="browser")
def browser_fixture() -> Iterator[Chromium]:
    """A headless Chromium for the whole session (see the module docstring)."""
    try:
        from playwright.sync_api import Error as PlaywrightError
    except ImportError:
        pytest.fail(
            "Playwright is not installed: pip install -e '.[dev]' (it needs playwright>=1.40)", pytrace=False
        )
    chromium = Chromium(install_chromium())
    try:
        chromium.start()
    except (PlaywrightError, FutureTimeout) as exc:
        chromium.close()
        pytest.fail(
            f"Chromium at {chromium.executable} did not start headless with {' '.join(CHROMIUM_ARGS)}: {exc}",
            pytrace=False,
        )
    try:
        yield chromium
    finally:
        chromium.close()
