"""Browser journeys: Debian's Chromium driven by pytest-playwright against Django's live server.

- The browser is the system's `/usr/bin/chromium` (`.ci/run` installs it with apt); Playwright
  never downloads one. Set PORTAL_CHROMIUM to use another binary.
- Playwright's synchronous API keeps an event loop in the main thread, which makes Django refuse
  database calls from the test body; the package-scoped fixtures below allow them only while
  these tests run and stop Playwright when the package is done, so the rest of the suite keeps
  Django's protection.
- A failing journey leaves a full-page screenshot and the HTML of every page it opened under
  ``$PORTAL_VAR_DIR/browser-failures/<test>/``; the failure report names the folder.
- Every page also fails the test on a JavaScript error or a Content-Security-Policy violation.
"""

import os
import re
import time
from pathlib import Path

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.conf import settings as django_settings
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import TOTP_SECRET

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "pass-for-tests-1"  # tests.factories.UserFactory's password
# Journeys render PDFs and run tasks eagerly inside the live server; give each step time.
expect.set_options(timeout=20_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"_report_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def _allow_sync_database_calls():
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def playwright(_allow_sync_database_calls):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium).")
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser_type(playwright):
    return playwright.chromium


@pytest.fixture(scope="package")
def browser_type_launch_args():
    return {
        "executable_path": CHROMIUM,
        "headless": True,
        # Root in a container has no user namespaces for Chromium's sandbox.
        "args": ["--no-sandbox", "--disable-dev-shm-usage", "--lang=zh-CN"],
    }


@pytest.fixture(scope="package")
def launch_browser(browser_type, browser_type_launch_args):
    def launch(**kwargs):
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser):
    running = launch_browser()
    yield running
    running.close()


@pytest.fixture
def browser_context_args(live_server):
    return {
        "base_url": live_server.url,
        "locale": "zh-CN",
        "timezone_id": "Asia/Shanghai",
        "viewport": {"width": 1280, "height": 900},
        "accept_downloads": True,
    }


class OpenedPages:
    """Pages a journey opened, with what the browser complained about on each."""

    def __init__(self):
        self.pages: list[tuple[str, Page]] = []
        self.problems: list[str] = []

    def watch(self, name: str, page: Page) -> Page:
        self.pages.append((name, page))

        def on_console(message):
            text = message.text
            if message.type == "error" or "Content-Security-Policy" in text:
                # A 4xx the journey provokes on purpose (e.g. a refused upload) is logged by
                # Chromium as a failed resource; real script errors and CSP reports are not.
                if "Failed to load resource" in text:
                    return
                self.problems.append(f"{name}: console {message.type}: {text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.problems.append(f"{name}: page error: {error}"))
        return page

    def save(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        for index, (name, page) in enumerate(self.pages, start=1):
            if page.is_closed():
                continue
            stem = f"{index:02d}-{re.sub(r'[^A-Za-z0-9_-]+', '_', name)}"
            try:
                page.screenshot(path=str(folder / f"{stem}.png"), full_page=True)
                (folder / f"{stem}.html").write_text(
                    f"<!-- {page.url} -->\n" + page.content(), encoding="utf-8"
                )
            except Exception as error:  # noqa: BLE001 - keep saving the other pages
                (folder / f"{stem}.error.txt").write_text(repr(error), encoding="utf-8")


@pytest.fixture
def open_page(request, new_context, live_server, transactional_db):
    """``open_page("applicant", language="en")`` opens a page in a fresh browser context (its
    own cookies) in the given language; the first page of a test runs in Chinese by default."""
    opened = OpenedPages()

    def _open(name: str, language: str = "zh-hans") -> Page:
        context = new_context()
        context.add_cookies(
            [
                {
                    "name": django_settings.LANGUAGE_COOKIE_NAME,
                    "value": language,
                    "url": live_server.url,
                }
            ]
        )
        return opened.watch(name, context.new_page())

    yield _open

    failed = any(
        getattr(request.node, f"_report_{when}", None) is not None
        and getattr(request.node, f"_report_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        folder = Path(django_settings.VAR_DIR) / "browser-failures" / request.node.name
        opened.save(folder)
        print(f"\nBrowser pages of the failed journey saved in {folder}")
    elif opened.problems:
        pytest.fail("The browser reported problems:\n" + "\n".join(opened.problems))


def totp_code(secret: str = TOTP_SECRET) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def sign_in(page: Page, email: str, password: str = PASSWORD, totp_secret: str | None = None):
    """Signs in through the login form, and the authenticator step for staff and officers."""
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(email)
    # Enter submits the form the field belongs to, whatever other buttons the page has (the
    # authenticator step also offers "cancel").
    page.locator("input[name=password]").fill(password)
    page.locator("input[name=password]").press("Enter")
    if totp_secret:
        _enter_totp(page, totp_secret)
    expect(page.locator("input[name=password]")).to_have_count(0)


def _enter_totp(page: Page, secret: str) -> None:
    # The portal accepts the current 30-second code only: a code made in a window's last moment
    # can arrive in the next one. So a code is made with time to spare, and once more from the
    # next window if the first was refused (a code is also accepted only once per user).
    for attempt in range(2):
        left_in_window = 30 - time.time() % 30
        if left_in_window < 5 or attempt:
            time.sleep(left_in_window + 0.5)
        page.locator("input[name=code]").fill(totp_code(secret))
        page.locator("input[name=code]").press("Enter")
        try:
            expect(page.locator("input[name=code]")).to_have_count(0, timeout=10_000)
        except AssertionError:
            continue
        return
    raise AssertionError("the authenticator code was refused twice")


@pytest.fixture
def catalogue(transactional_db):
    """The published product catalogue. Journeys run against the live server, so their data is
    committed and wiped after each test; the catalogue is loaded again for each journey."""
    from django.core.management import call_command

    call_command("seed_catalogue", verbosity=0)
