"""Which field a file's column feeds: the header words people use, in English and Chinese.

One mapping for every import path: ``retento import`` (CLI), ``POST /api/v1/imports/{entity}``
(API) and the web wizard, whose mapping step starts from the same guess (:func:`header_fields`).
A column feeds, in this order:

1. the field a mapping names for it (``--map``, a mapping file, the API's ``mapping``, the
   wizard's choices; ``null`` or ``-`` drops the column);
2. the field of its own name, loosely: "Unit Price", "unit-price", "单价（元）" without its
   bracketed note, "name*" without the required-field star;
3. the field it is a header word for ("Customer ID", "客户编号", "手机号"), when no other column
   gives that field already (a file with both ``name`` and "Customer name" keeps ``name``);
4. customers: the custom field it names (:func:`custom_field_of`): ``custom.<key>`` as exports
   write it, or a defined field's key, label or Chinese label ("Tier", "等级").

Anything else is not a field: the importer reports it as an ignored column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from retento.dataio.schemas import COLUMNS

CUSTOM = "custom."


class FieldDefinition(Protocol):
    """What the header mapping reads of a custom field definition (``CustomFieldDefinition``)."""

    key: str
    label: str
    label_zh: str | None


# Header words people use for each field (lower case, spaces/dashes as "_"), English and Chinese,
# beside the field's own name. A header is looked up as it is and then without a bracketed note
# ("单价（元）", "Product number (SKU)"), so the wizard's own field labels, in either language,
# map back (tests/dataio/test_wizard_zh.py checks every field of every entity).
_CUSTOMER_ID = ("customer", "customer_id", "customer_no", "customer_number", "customer_code",
                "customer_ref", "客户编号", "客户号", "客户代码", "客户id", "客户编码", "会员编号",
                "会员号", "会员卡号")  # fmt: skip
_PRODUCT_ID = ("sku", "product", "product_id", "product_code", "product_no", "product_number",
               "product_ref", "item", "item_id", "item_code", "item_no", "article", "article_no",
               "商品编号", "产品编号", "货号", "商品货号", "商品代码", "产品代码", "商品编码",
               "产品编码", "商品id", "产品id", "物料编号", "物料号", "sku编号")  # fmt: skip
_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "external_id": (*_CUSTOMER_ID[1:], "id", "外部编号", "编号"),
        "name": ("customer", "customer_name", "full_name", "company_name", "姓名", "名称", "客户名称", "客户姓名",
                 "客户名", "名字", "公司名称"),
        "party_type": ("party", "person_or_organisation", "person_or_organization", "个人或组织",
                       "客户性质", "主体类型"),
        "kind": ("type", "customer_type", "类型", "客户类型", "客户类别"),
        "email": ("e_mail", "mail", "email_address", "e_mail_address", "邮箱", "电子邮件",
                  "电子邮箱", "邮件", "邮箱地址"),
        "phone": ("mobile", "telephone", "tel", "phone_number", "mobile_phone", "mobile_number",
                  "phone_no", "cell", "电话", "手机", "手机号", "手机号码", "联系电话", "电话号码",
                  "移动电话"),
        "address": ("street", "street_address", "地址", "联系地址", "详细地址", "通讯地址"),
        "city": ("town", "城市", "所在城市"),
        "country": ("country_code", "国家", "国家代码", "国家/地区", "国家或地区"),
        "acquired_on": ("acquired", "acquisition_date", "date_acquired", "signup_date",
                        "signed_up", "registered_on", "registration_date", "customer_since",
                        "client_since", "member_since", "join_date", "joined_on", "date_joined",
                        "获客日期", "成为客户日期", "成为客户时间", "注册日期", "注册时间",
                        "入会日期", "开户日期"),
        "birth_date": ("birthday", "birthdate", "date_of_birth", "dob", "born", "born_on",
                       "出生日期", "生日", "出生年月日", "出生年月", "出生时间"),
        "consent_email": ("email_consent", "e_mail_consent", "电子邮件许可", "邮件许可",
                          "邮件同意"),
        "consent_sms": ("sms_consent", "短信许可", "短信同意"),
        "consent_phone": ("phone_consent", "电话许可", "电话同意"),
        "consent_profiling": ("profiling_consent", "画像分析许可", "画像许可"),
        "tags": ("tag", "labels", "标签"),
        "owner": ("account_manager", "owner_username", "sales_rep", "负责人", "客户经理",
                  "归属人"),
        "custom_fields": ("custom", "extra", "自定义字段"),
        "note": ("notes", "remark", "remarks", "comment", "comments", "备注", "说明"),
    },
    "products": {
        "external_id": (*(w for w in _PRODUCT_ID if w != "product"), "code", "id", "外部编号",
                        "编号"),
        "name": ("product", "product_name", "item_name", "title", "名称", "商品名称", "产品名称",
                 "商品名", "产品名", "品名"),
        "category": ("product_category", "product_group", "group", "类别", "分类", "品类",
                     "类目", "商品类别", "产品类别", "商品分类", "产品分类"),
        "unit_price": ("price", "sale_price", "selling_price", "list_price", "单价", "价格",
                       "标价", "定价", "售价", "销售价", "零售价", "销售单价"),
        "unit_cost": ("cost", "cost_price", "purchase_price", "成本", "单位成本", "成本价",
                      "进价", "采购价"),
        "is_active": ("active", "enabled", "启用", "是否启用", "在售", "是否在售", "有效"),
    },
    "orders": {
        "order_external_id": ("order", "order_id", "order_no", "order_number", "order_code",
                              "order_ref", "订单号", "订单编号", "订单id", "订单编码", "单号"),
        "customer_external_id": _CUSTOMER_ID,
        "ordered_at": ("date", "time", "timestamp", "order_date", "order_time", "ordered",
                       "ordered_on", "下单时间", "下单日期", "订单日期", "订单时间", "日期",
                       "时间", "交易时间", "交易日期"),
        "product_external_id": _PRODUCT_ID,
        "quantity": ("qty", "units", "数量", "件数", "购买数量", "销售数量"),
        "unit_price": ("price", "sale_price", "selling_price", "单价", "价格", "售价",
                       "销售单价", "成交价"),
        "line_discount": ("discount", "折扣", "行折扣", "优惠", "商品折扣"),
        "unit_cost": ("cost", "cost_price", "成本", "单位成本", "成本价"),
        "order_discount": ("订单折扣", "订单优惠", "整单折扣", "整单优惠"),
        "channel": ("sales_channel", "source", "渠道", "销售渠道", "下单渠道"),
        "status": ("order_status", "状态", "订单状态"),
        "line_no": ("line", "line_number", "行号", "明细行号", "序号"),
    },
    "touchpoints": {
        "external_id": ("id", "touchpoint_id", "contact_id", "外部编号", "编号", "接触编号"),
        "customer_external_id": _CUSTOMER_ID,
        "occurred_at": ("date", "time", "when", "timestamp", "time_of_contact", "contact_time",
                        "contact_date", "occurred", "occurred_on", "时间", "日期", "接触时间", "联系时间",
                        "发生时间"),
        "channel": ("contact_channel", "渠道", "接触渠道"),
        "stage": ("journey_stage", "阶段", "旅程阶段"),
        "direction": ("方向",),
        "outcome": ("result", "结果"),
        "owner": ("agent", "user", "负责人", "经办人", "处理人"),
        "note": ("notes", "remark", "remarks", "comment", "备注", "说明", "内容"),
    },
    "complaints": {
        "external_id": ("id", "complaint_id", "complaint_no", "complaint_number", "case_id",
                        "外部编号", "编号", "投诉编号", "投诉单号", "工单号"),
        "customer_external_id": _CUSTOMER_ID,
        "category": ("complaint_category", "type_of_complaint", "类别", "分类", "投诉类别",
                     "投诉分类", "问题类别"),
        "subject": ("title", "summary", "topic", "主题", "标题", "投诉主题", "摘要"),
        "description": ("details", "text", "body", "complaint", "content", "what_happened",
                        "描述", "内容", "详情", "投诉内容", "问题描述", "详细描述", "说明",
                        "发生了什么"),
        "kind": ("type", "complaint_or_grumble", "类型", "抱怨或投诉", "投诉类型"),
        "channel": ("source", "intake_channel", "渠道", "受理渠道", "投诉渠道", "来源"),
        "severity": ("level", "priority", "严重程度", "严重性", "等级", "级别"),
        "emotion": ("mood", "customer_emotion", "情绪", "客户情绪"),
        "purposes": ("purpose", "wants", "customer_purpose", "customer's_purposes",
                     "what_the_customer_wants", "诉求",
                     "目的", "客户诉求", "客户目的"),
        "root_cause": ("cause", "根本原因", "原因", "根因"),
        "received_at": ("date", "time", "timestamp", "received", "received_on", "complaint_date",
                        "受理时间", "接收时间", "投诉时间", "日期", "时间", "收到时间"),
    },
}  # fmt: skip
SYNONYMS: dict[str, dict[str, str]] = {
    entity: {word: f for f, words in fields.items() for word in words}
    for entity, fields in _WORDS.items()
}
_NOTE = re.compile(r"\s*[(（\[【][^)）\]】]*[)）\]】]\s*$")


def header_key(text: str) -> str:
    """A header as the field names and header words are written: lower case, spaces and dashes
    as "_", without a required-field star or a trailing colon."""
    return text.strip().strip("*：:").strip().lower().replace(" ", "_").replace("-", "_")


def _keys(header: str) -> tuple[str, ...]:
    """The header's key as it is, then without a bracketed note ("单价（元）" → "单价")."""
    return header_key(header), header_key(_NOTE.sub("", header))


def header_fields(
    entity: str, header: list[str], columns: dict[str, str | None] | None = None
) -> dict[str, str | None]:
    """Source column → the field it feeds (see the module's docstring), ``None`` for a column
    that feeds none. ``columns`` is the mapping's own choice for some columns, kept as given
    (the importer reports a choice that is no field). Two columns of the same field name both
    map to it (the importer refuses that; the wizard keeps the first)."""
    fields = {c.name for c in COLUMNS[entity]}
    chosen = columns or {}
    out: dict[str, str | None] = {}
    for src in header:
        if not src or src in out:
            continue
        if src in chosen:
            out[src] = chosen[src]
        else:
            out[src] = next((k for k in _keys(src) if k in fields), None)
    given = {target for target in out.values() if target}
    synonyms = SYNONYMS.get(entity, {})
    for src, target in out.items():
        if target is not None or src in chosen:
            continue
        word = next((synonyms[k] for k in _keys(src) if k in synonyms), None)
        if word is not None and word not in given:
            out[src] = word
            given.add(word)
    return out


def custom_field_names(defs: Iterable[FieldDefinition]) -> dict[str, str]:
    """Header (case-folded) → key of each custom field definition: its key, its label and its
    Chinese label (keys win over labels)."""
    defs = list(defs)
    names: dict[str, str] = {}
    for d in defs:
        for name in (d.label_zh, d.label):
            if name:
                names.setdefault(name.strip().casefold(), d.key)
    names.update({d.key.casefold(): d.key for d in defs})
    return names


def custom_field_of(header: str, names: dict[str, str]) -> str | None:
    """The ``custom.<key>`` target a column no built-in field takes feeds by its header alone:
    ``custom.<key>`` as exports write it (defined or not: imports keep undefined keys as other
    fields), else the defined field whose key or label the header is (``names``:
    :func:`custom_field_names`)."""
    loose = header.strip().lower().replace(" ", "_").replace("-", "_")
    if loose.startswith(CUSTOM):
        return loose
    key = names.get(header.strip().casefold())
    return f"{CUSTOM}{key}" if key else None
