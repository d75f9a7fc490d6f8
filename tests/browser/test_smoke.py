"""The browser set-up itself: Chromium opens the portal, in Chinese, with no script errors."""

from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.conftest import TOTP_SECRET


def test_home_and_catalogue_open_in_chinese_without_script_errors(open_page, catalogue):
    page = open_page("visitor")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.goto("/products/")
    expect(page.locator("main")).to_contain_text("专利")


def test_an_applicant_signs_in_and_reaches_the_dashboard(open_page, applicant_a):
    page = open_page("applicant")
    sign_in(page, applicant_a.email)
    page.goto("/app/")
    expect(page.locator("main")).to_contain_text("甲公司")


def test_the_api_docs_and_the_admin_run_under_the_content_security_policy(
    open_page, catalogue, underwriter
):
    # Swagger UI and the admin's own scripts are the third-party code most likely to need
    # inline script; a CSP violation on these pages fails the test through open_page.
    page = open_page("visitor")
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info")).to_be_visible()
    staff = open_page("underwriter")
    sign_in(staff, underwriter.email, totp_secret=TOTP_SECRET)
    staff.goto("/admin/")
    expect(staff.locator("#content")).to_be_visible()
    staff.goto("/admin/underwriting/product/")
    expect(staff.locator("#changelist")).to_be_visible()
