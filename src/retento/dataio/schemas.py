"""Import/export column specifications and the import report."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from retento.web.i18n import N_

ENTITIES = ("customers", "products", "orders", "touchpoints", "complaints")
# Each importable entity's name as people read it (msgids): the wizard's entity select, and the
# importer's messages in the reader's language ("the header lacks required columns for 客户").
ENTITY_LABELS = {
    "customers": N_("Customers"),
    "products": N_("Products"),
    "orders": N_("Orders"),
    "touchpoints": N_("Touchpoints"),
    "complaints": N_("Complaints"),
}
EXPORT_ENTITIES = ("customers", "products", "orders", "order_lines", "touchpoints")

# Longest text accepted in any one cell; the database columns are narrower still (checked per field).
MAX_FIELD = 10_000


@dataclass(frozen=True)
class Column:
    """One importable column: its field name, whether it is required and its maximum length."""

    name: str
    required: bool = False
    max_len: int = 200
    help: str = ""


CUSTOMER_COLUMNS = (
    Column("external_id", True, 64, "your customer number; the upsert key"),
    Column("name", True, 200),
    Column("party_type", help="person (default) or organisation"),
    Column("kind", help="consumer (default), business, distributor, supplier, department, branch"),
    Column("email", max_len=254),
    Column("phone", max_len=50),
    Column("address", max_len=300),
    Column("city", max_len=100),
    # Checked as a code when read (``check_country``: "'China' is not a country code …").
    Column("country", max_len=100, help="ISO 3166 two-letter code"),
    Column("acquired_on", help="date the customer was acquired"),
    Column("birth_date", help="date of birth (people), 1900-01-01 to today"),
    Column("consent_email", help="true/false, yes/no, 1/0"),
    Column("consent_sms"),
    Column("consent_phone"),
    Column("consent_profiling"),
    Column("tags", max_len=2000, help="separated by ';'"),
    Column("owner", max_len=80, help="username of the account manager"),
    Column("custom_fields", max_len=MAX_FIELD, help="a JSON object"),
    Column("note", max_len=5000),
)

PRODUCT_COLUMNS = (
    Column("external_id", True, 64),
    Column("name", True, 200),
    Column("category", max_len=100),
    Column("unit_price", True),
    Column("unit_cost", True),
    Column("is_active", help="true (default) or false"),
)

ORDER_COLUMNS = (
    Column("order_external_id", True, 64, "the order's number; lines of one order stay together"),
    Column("customer_external_id", True, 64),
    Column("ordered_at", True, help="timestamp; naive ones are read in the mapping's time zone"),
    Column("product_external_id", True, 64),
    Column("quantity", True, help="whole number > 0"),
    Column("unit_price", True),
    Column("line_discount", help="money off this line (default 0)"),
    Column("unit_cost", help="defaults to the product's unit cost"),
    Column("order_discount", help="money off the whole order; repeat it or give it once"),
    Column("channel", help="store (default), web, phone, email, chat, partner, other"),
    Column("status", help="completed (default), placed, paid, shipped, cancelled"),
    Column("line_no", help="position of the line in its order (default: file order)"),
)
# Columns the orders export adds for reading; the importer recomputes them and ignores them.
ORDER_COMPUTED = ("order_revenue", "order_cost", "order_profit", "order_refunded")

TOUCHPOINT_COLUMNS = (
    Column("external_id", True, 64),
    Column("customer_external_id", True, 64),
    Column("occurred_at", True),
    Column("channel", True, help="ads, phone, web, store, email, chat, other"),
    Column(
        "stage",
        True,
        help="desire, information, cognition, selection, order, receipt, payment, after_sales",
    ),
    Column("direction", help="inbound (default) or outbound"),
    Column("outcome", help="neutral (default), positive, negative, no_response, purchase, ..."),
    Column("owner", max_len=80, help="username of the user who handled it"),
    Column("note", max_len=5000),
)

# The columns of ``retento complaints import`` (complaints.transfer); the upsert key is the
# complaint's external_id (dataio.import_complaints).
COMPLAINT_COLUMNS = (
    Column("external_id", True, 64, "your complaint number; the upsert key"),
    Column("customer_external_id", True, 64),
    Column("category", True, 50, help="a complaint category code (e.g. product, delivery)"),
    Column("subject", True, 200),
    Column("description", True, MAX_FIELD),
    Column("kind", help="complaint (default) or grumble"),
    Column("channel", help="phone (default), email, web_form, store, chat, social, api"),
    Column("severity", help="1 inconvenience (default) … 4 serious loss"),
    Column("emotion", help="calm (default), cold, intense"),
    Column("purposes", help="heard, respected, resolved, compensated; separated by ';'"),
    Column("root_cause", max_len=100),
    Column("received_at", help="timestamp (default: now); naive ones in the mapping's time zone"),
)

COLUMNS: dict[str, tuple[Column, ...]] = {
    "customers": CUSTOMER_COLUMNS,
    "products": PRODUCT_COLUMNS,
    "orders": ORDER_COLUMNS,
    "touchpoints": TOUCHPOINT_COLUMNS,
    "complaints": COMPLAINT_COLUMNS,
}
IGNORED: dict[str, tuple[str, ...]] = {"orders": ORDER_COMPUTED}


class RowError(BaseModel):
    row: int | None
    field: str | None
    message: str


class ImportReport(BaseModel):
    """What one import run did; ``errors`` lists rejected rows when ``skip_invalid`` is on."""

    entity: str
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    lines: int | None = Field(None, description="Order lines written (orders only).")
    ignored_columns: list[str] = Field(default_factory=list)
    rejects_file: str | None = None
    errors: list[RowError] = Field(default_factory=list)
    seconds: float = 0.0
    work_item_ids: list[int] = Field(
        default_factory=list,
        description="Work queued by the import and run after it by a worker (e.g. the loyalty "
        "points of a large import's orders): GET /api/v1/work/{id} shows its progress.",
    )
