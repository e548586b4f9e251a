"""A manager reading the app in Chinese deletes an order entered by mistake from its page: the
browser asks first (cancelling keeps the order), then the customer's page says it was deleted
and the order's page is gone. Real server, Debian's Chromium through Playwright."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.web.test_browser import browser, login, page, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_manager_deletes_an_order_in_chinese(page, server):  # noqa: F811
    login(page, server, "manager")
    customer = server.ids["Li Wei"]
    page.goto(f"{server.base_url}/customers/{customer}")
    page.click("form.langswitch button[value=zh_CN]")
    page.wait_for_selector("html[lang=zh-CN]", state="attached")
    page.locator("#orders-table a[href^='/orders/']").first.click()
    page.wait_for_url(re.compile(r".*/orders/\d+$"))
    order_id = int(page.url.rsplit("/", 1)[1])
    button = page.locator("#delete-order")
    expect(button).to_have_text("删除订单")

    asked: list[str] = []

    def answer(accept: bool):
        def handle(dialog) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    # Cancelled in the browser's question: nothing is sent, the order stays.
    page.once("dialog", answer(False))
    button.click()
    expect(page.locator("h1")).to_have_text(f"订单 #{order_id}")
    assert asked == [
        f"删除订单 #{order_id}？仅用于误录的订单：该订单获得的会员积分将被扣回。"
        "客户取消的订单请改为取消（编辑订单 › 状态）。"
    ]
    assert page.url == f"{server.base_url}/orders/{order_id}"

    page.once("dialog", answer(True))
    button.click()
    page.wait_for_url(f"{server.base_url}/customers/{customer}")
    expect(page.locator(".flash-ok")).to_have_text(f"订单 #{order_id} 已删除。")
    expect(page.locator(f"#orders-table a[href='/orders/{order_id}']")).to_have_count(0)
    assert len(asked) == 2

    gone = page.goto(f"{server.base_url}/orders/{order_id}")
    assert gone.status == 404
    expect(page.locator("main")).to_contain_text(f"订单 {order_id} 不存在。")
