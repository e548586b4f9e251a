from decimal import Decimal as D

from retento.orders.totals import LineFigures, RefundFigures, order_totals


def test_totals_with_discounts_and_refund_of_returned_units():
    t = order_totals(
        [
            LineFigures(2, D("10.00"), D("6.00"), D("1.00")),
            LineFigures(1, D("5.50"), D("2.25"), D("0")),
        ],
        D("2.00"),
        [RefundFigures(D("9.50"), D("6.00"))],
    )
    assert t.gross == D("22.50")
    assert t.revenue == D("13.00")
    assert t.cost == D("8.25")
    assert t.profit == D("4.75")
    assert t.refunded == D("9.50")


def test_no_lines_gives_zero():
    t = order_totals([], D("0.00"))
    assert (t.revenue, t.cost, t.profit) == (D("0.00"), D("0.00"), D("0.00"))
