"""Browser tests of the customer and product pickers on the complaint intake form: real server,
Debian's Chromium through Playwright, in English and in Chinese."""

from __future__ import annotations

import pytest

from tests.web.live import wait_js
from tests.web.test_browser import browser, login, page, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

OPTIONS = "#o-{field} .picker-option"


def type_and_wait(page, field: str, text: str, expect: str) -> None:  # noqa: F811
    """Type into a picker's search box key by key, as a person does, until ``expect`` shows."""
    page.click(f"#f-{field}-search")
    page.keyboard.type(text, delay=40)
    wait_js(
        page,
        f"(() => {{ const l = document.getElementById('o-{field}');"
        f" return !l.hidden && l.innerText.includes({expect!r}); }})()",
    )


def test_agent_picks_customer_and_product_by_typing(page, server):  # noqa: F811
    login(page, server, "agent")
    page.goto(f"{server.base_url}/complaints/new")
    # JavaScript turned the typed-number inputs into search boxes.
    assert page.locator("#f-customer_id").get_attribute("type") == "hidden"
    assert page.is_visible("#f-customer_id-search")
    assert page.get_attribute("label[for=f-customer_id-search]", "for") == "f-customer_id-search"
    # Part of a name; the options come while typing; arrows and Enter pick, the form stays.
    type_and_wait(page, "customer_id", "trading", "Acme Trading Ltd")
    assert page.get_attribute("#f-customer_id-search", "aria-expanded") == "true"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    active = page.get_attribute("#f-customer_id-search", "aria-activedescendant")
    assert active and page.get_attribute(f"#{active}", "data-label") == "Acme Trading Ltd"
    page.keyboard.press("Enter")
    assert "/complaints/new" in page.url  # Enter picked; it did not submit
    acme = str(server.ids["Acme Trading Ltd"])
    assert page.input_value("#f-customer_id") == acme
    assert page.input_value("#f-customer_id-search") == "Acme Trading Ltd"
    assert page.is_hidden("#o-customer_id")
    assert "Acme Trading Ltd" in page.inner_text("#h-customer_id")
    # Part of a product name, picked with the mouse.
    type_and_wait(page, "product_id", "froth", "Milk frother")
    page.click(OPTIONS.format(field="product_id") + ":has-text('Milk frother')")
    assert page.input_value("#f-product_id-search") == "Milk frother"
    product = page.input_value("#f-product_id")
    assert product.isdigit()
    page.select_option("#f-category_id", label="Delivery")
    page.fill("#f-subject", "Browser: the frother leaks")
    page.fill("#f-description", "Milk everywhere after two uses.")
    page.click("#complaint-form button[type=submit]")
    page.wait_for_selector("#complaint-subject")
    assert page.inner_text("#complaint-subject") == "Browser: the frother leaks"
    assert page.locator(f"a[href='/customers/{acme}']:has-text('Acme Trading Ltd')").count() >= 1
    assert "Milk frother" in page.inner_text("#complaint-product")


def test_typing_again_drops_the_choice_and_escape_closes(page, server):  # noqa: F811
    login(page, server, "agent")
    page.goto(f"{server.base_url}/complaints/new?customer_id={server.ids['Li Wei']}")
    assert page.input_value("#f-customer_id-search") == "Li Wei"
    type_and_wait(page, "customer_id", "zzzz-nobody", "No customer matches")
    assert page.input_value("#f-customer_id") == ""  # what is submitted is what is shown
    page.keyboard.press("Escape")
    assert page.is_hidden("#o-customer_id")
    # Submitting without a choice: the field says so, and the picker is still there.
    page.select_option("#f-category_id", label="Delivery")
    page.fill("#f-subject", "No customer chosen")
    page.fill("#f-description", "-")
    page.click("#complaint-form button[type=submit]")
    page.wait_for_selector("#e-customer_id")
    assert page.is_visible("#f-customer_id-search")


def test_pickers_in_chinese(page, server):  # noqa: F811
    login(page, server, "agent")
    page.goto(f"{server.base_url}/complaints/new")
    page.click("form.langswitch button[value=zh_CN]")
    page.wait_for_selector("html[lang=zh-CN]", state="attached")
    page.wait_for_selector("#f-customer_id-search")
    assert (
        page.get_attribute("#f-customer_id-search", "placeholder") == "姓名、电话、邮箱或客户编号"
    )
    assert page.inner_text("label[for=f-product_id-search]").startswith("相关产品")
    type_and_wait(page, "customer_id", "没有这个人", "没有与“没有这个人”匹配的客户。")
    page.fill("#f-customer_id-search", "")
    # Two characters of a Chinese name.
    type_and_wait(page, "customer_id", "华联", "上海华联超市")
    page.keyboard.press("Enter")
    hualian = str(server.ids["上海华联超市"])
    assert page.input_value("#f-customer_id") == hualian
    type_and_wait(page, "product_id", "Espresso", "Espresso machine")
    page.keyboard.press("Enter")
    page.select_option("#f-category_id", index=1)
    page.fill("#f-subject", "浏览器测试：咖啡机漏水")
    page.fill("#f-description", "用了两次就漏水。")
    page.click("#complaint-form button[type=submit]")
    page.wait_for_selector("#complaint-subject")
    assert page.locator(f"a[href='/customers/{hualian}']:has-text('上海华联超市')").count() >= 1
    assert "Espresso machine" in page.inner_text("#complaint-product")
