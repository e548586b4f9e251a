"""Browser tests of the customer and product pickers on the complaint intake form: real server,
Debian's Chromium through Playwright, in English and in Chinese."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.test_browser import browser, login, page, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

OPTIONS = "#o-{field} .picker-option"


def type_and_wait(page, field: str, text: str, shown: str) -> None:  # noqa: F811
    """Type into a picker's search box key by key, as a person does, until the options answer
    the whole text in the box and include ``shown``.

    The list records the text its options answer (``data-q``): on a busy machine the keys come
    more than the 200 ms htmx waits apart, so the options of a first character ("华") show, and
    may already include ``shown``, before the answer to the whole text ("华联") arrives."""
    page.click(f"#f-{field}-search")
    page.keyboard.type(text, delay=40)
    typed = page.input_value(f"#f-{field}-search").strip()
    options = page.locator(f"#o-{field}")
    expect(options).to_have_attribute("data-q", typed)
    expect(options).to_be_visible()
    expect(options).to_contain_text(shown)


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
    acme = str(server.ids["Acme Trading Ltd"])
    expect(page.locator("#f-customer_id")).to_have_value(acme)
    assert "/complaints/new" in page.url  # Enter picked; it did not submit
    expect(page.locator("#f-customer_id-search")).to_have_value("Acme Trading Ltd")
    expect(page.locator("#o-customer_id")).to_be_hidden()
    expect(page.locator("#h-customer_id")).to_contain_text("Acme Trading Ltd")
    # Part of a product name, picked with the mouse.
    type_and_wait(page, "product_id", "froth", "Milk frother")
    page.click(OPTIONS.format(field="product_id") + ":has-text('Milk frother')")
    expect(page.locator("#f-product_id-search")).to_have_value("Milk frother")
    product = page.input_value("#f-product_id")
    assert product.isdigit()
    page.select_option("#f-category_id", label="Delivery")
    page.fill("#f-subject", "Browser: the frother leaks")
    page.fill("#f-description", "Milk everywhere after two uses.")
    page.click("#complaint-form button[type=submit]")
    expect(page.locator("#complaint-subject")).to_have_text("Browser: the frother leaks")
    assert page.locator(f"a[href='/customers/{acme}']:has-text('Acme Trading Ltd')").count() >= 1
    expect(page.locator("#complaint-product")).to_contain_text("Milk frother")


def test_typing_again_drops_the_choice_and_escape_closes(page, server):  # noqa: F811
    login(page, server, "agent")
    page.goto(f"{server.base_url}/complaints/new?customer_id={server.ids['Li Wei']}")
    assert page.input_value("#f-customer_id-search") == "Li Wei"
    type_and_wait(page, "customer_id", "zzzz-nobody", "No customer matches")
    assert page.input_value("#f-customer_id") == ""  # what is submitted is what is shown
    page.keyboard.press("Escape")
    expect(page.locator("#o-customer_id")).to_be_hidden()
    # Submitting without a choice: the field says so, and the picker is still there.
    page.select_option("#f-category_id", label="Delivery")
    page.fill("#f-subject", "No customer chosen")
    page.fill("#f-description", "-")
    page.click("#complaint-form button[type=submit]")
    expect(page.locator("#e-customer_id")).to_be_visible()
    expect(page.locator("#f-customer_id-search")).to_be_visible()


def test_enter_before_the_answer_picks_what_the_box_says(page, server):  # noqa: F811
    """Enter pressed before the options answer the text in the box (they answer an earlier
    text, or nothing yet) waits for the answer and picks its best match, never a stale option;
    a list closed with Escape stays closed when its answer arrives afterwards."""
    login(page, server, "manager")
    page.goto(f"{server.base_url}/complaints/new")
    search, options = page.locator("#f-customer_id-search"), page.locator("#o-customer_id")
    # "华" alone lists 华东分公司 first; "华联" only 上海华联超市.
    search.click()
    page.keyboard.type("华")
    expect(options).to_have_attribute("data-q", "华")
    expect(options.locator(".picker-option").first).to_have_attribute("data-label", "华东分公司")
    page.keyboard.type("联")
    page.keyboard.press("Enter")  # at once: the list still shows the options of "华"
    expect(page.locator("#f-customer_id")).to_have_value(str(server.ids["上海华联超市"]))
    expect(search).to_have_value("上海华联超市")
    expect(options).to_be_hidden()
    # Escape before the answer: the answer comes and the list stays closed.
    search.fill("")
    page.keyboard.type("Glo")
    expect(options).to_have_attribute("data-q", "Glo")
    expect(options).to_be_visible()
    page.keyboard.type("bex")
    page.keyboard.press("Escape")  # at once: "Globex" is asked 200 ms after the last key
    expect(options).to_be_hidden()
    expect(options).to_have_attribute("data-q", "Globex")  # the answer came...
    expect(options).to_be_hidden()  # ...and did not reopen the list
    assert page.input_value("#f-customer_id") == ""
    page.keyboard.press("ArrowDown")  # the arrow opens it again
    expect(options).to_be_visible()
    expect(options).to_contain_text("Globex Corporation")


def test_pickers_in_chinese(page, server):  # noqa: F811
    login(page, server, "agent")
    page.goto(f"{server.base_url}/complaints/new")
    page.click("form.langswitch button[value=zh_CN]")
    page.wait_for_selector("html[lang=zh-CN]", state="attached")
    search = page.locator("#f-customer_id-search")
    expect(search).to_have_attribute("placeholder", "姓名、电话、邮箱或客户编号")
    assert page.inner_text("label[for=f-product_id-search]").startswith("相关产品")
    type_and_wait(page, "customer_id", "没有这个人", "没有与“没有这个人”匹配的客户。")
    search.fill("")
    # Two characters of a Chinese name.
    type_and_wait(page, "customer_id", "华联", "上海华联超市")
    page.keyboard.press("Enter")
    hualian = str(server.ids["上海华联超市"])
    expect(page.locator("#f-customer_id")).to_have_value(hualian)
    type_and_wait(page, "product_id", "Espresso", "Espresso machine")
    page.keyboard.press("Enter")
    expect(page.locator("#f-product_id-search")).to_have_value("Espresso machine")
    page.select_option("#f-category_id", index=1)
    page.fill("#f-subject", "浏览器测试：咖啡机漏水")
    page.fill("#f-description", "用了两次就漏水。")
    page.click("#complaint-form button[type=submit]")
    expect(page.locator("#complaint-subject")).to_have_text("浏览器测试：咖啡机漏水")
    assert page.locator(f"a[href='/customers/{hualian}']:has-text('上海华联超市')").count() >= 1
    expect(page.locator("#complaint-product")).to_contain_text("Espresso machine")
