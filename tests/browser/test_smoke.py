"""The browser set-up itself: Chromium opens the portal, in Chinese, with no script errors."""

from playwright.sync_api import expect

from tests.browser.conftest import sign_in


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
