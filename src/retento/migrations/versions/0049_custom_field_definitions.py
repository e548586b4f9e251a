"""custom field definitions

The fields an administrator defines for customer records (key, labels in English and Chinese,
type, choice options, required, active/retired, order), versioned like every edited record. The
values stay in ``customers.custom_fields``; keys stored before any definition existed remain
there as "other fields".

The four keys Retento itself reads are defined here, so that users can go on entering them on
the form and through the API: ``wallet_spend`` (share of wallet; also covers its per-category
``wallet_spend.<category>`` keys), ``no_alternative`` and ``affiliated`` (loyalty types) and
``language`` (the language of e-mails to the customer). An administrator may relabel or retire
them like any other field.

Revision ID: 0049
Revises: 0048
Create Date: 2026-12-07 02:00:00.000000
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0049"
down_revision = "0048"
branch_labels = None
depends_on = None


BUILT_IN = (
    ("wallet_spend", "Spend with all suppliers (share of wallet)", "在所有供应商处的总支出（钱包份额）",
     "number", []),
    ("no_alternative", "No alternative supplier", "无其他可选供应商", "boolean", []),
    ("affiliated", "Affiliated with us (kinship)", "与本企业有亲缘关系", "boolean", []),
    ("language", "Language of e-mails", "邮件语言", "choice",
     [{"value": "en", "label_zh": "英文"}, {"value": "zh_CN", "label_zh": "中文"}]),
)  # fmt: skip


def upgrade() -> None:
    table = op.create_table(
        "custom_field_definitions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("label_zh", sa.String(length=100), nullable=True),
        sa.Column("field_type", sa.String(length=20), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_field_definitions")),
        sa.UniqueConstraint("key", name=op.f("uq_custom_field_definitions_key")),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        table,
        [
            {"key": key, "label": label, "label_zh": label_zh, "field_type": kind,
             "options": options, "required": False, "active": True, "position": 10 * (i + 1),
             "created_at": now, "updated_at": now, "version": 1}
            for i, (key, label, label_zh, kind, options) in enumerate(BUILT_IN)
        ],
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("custom_field_definitions")
