"""Ready-made questionnaires: the SPEC §3 standard survey and the ECSI model survey (en, zh_CN)."""

from __future__ import annotations

from typing import Any

from retento.core.errors import InvalidInput, Msg
from retento.surveys.schemas import OptionIn, QuestionIn, SectionIn

# A bilingual text: (English, Simplified Chinese).
T = tuple[str, str]
# The languages of a bilingual text, in its order.
LANGUAGES = ("en", "zh_CN")

YES_NO: list[tuple[str, T]] = [("yes", ("Yes", "是")), ("no", ("No", "否"))]

# Question codes the expression funnel (metrics.expression_funnel) reads from the problems section.
PROBLEM_EXPERIENCED = "problem_experienced"
PROBLEM_REPORTED = "problem_reported"
PROBLEM_RESOLVED = "problem_resolved"


def _q(code: str, qtype: str, text: T, **kw: Any) -> dict[str, Any]:
    return {"code": code, "qtype": qtype, "text": text, **kw}


def _ep(code: str, text: T, dim: str, value_dim: str | None = None) -> dict[str, Any]:
    return _q(
        code,
        "expectation_perception",
        text,
        satisfaction_dimension=dim,
        value_dimension=value_dim,
        help_text=(
            "First rate what you expected (a), then what you experienced (b).",
            "请先评价您的期望（a），再评价您的实际感受（b）。",
        ),
    )


STANDARD: list[tuple[str, T, list[dict[str, Any]]]] = [
    (
        "basic",
        ("Basic facts", "基本情况"),
        [
            _q(
                "basic_customer_since",
                "single_choice",
                ("How long have you been our customer?", "您成为我们的客户有多久了？"),
                satisfaction_dimension="basic",
                options=[
                    ("lt1", ("Less than a year", "不到一年")),
                    ("1to3", ("1 to 3 years", "一到三年")),
                    ("gt3", ("More than 3 years", "三年以上")),
                ],
            ),
            _q(
                "basic_frequency",
                "single_choice",
                ("How often do you buy from us?", "您多久向我们购买一次？"),
                satisfaction_dimension="basic",
                options=[
                    ("monthly", ("Every month", "每月")),
                    ("quarterly", ("Every quarter", "每季度")),
                    ("yearly", ("Every year", "每年")),
                    ("rarely", ("Less often", "更少")),
                ],
            ),
            _q(
                "basic_channel",
                "multiple_choice",
                ("Where do you buy from us?", "您通过哪些渠道向我们购买？"),
                satisfaction_dimension="basic",
                options=[
                    ("store", ("In a store", "门店")),
                    ("online", ("Online", "网上")),
                    ("phone", ("By phone", "电话")),
                    ("partner", ("Through a distributor", "经销商")),
                ],
            ),
        ],
    ),
    (
        "overall",
        ("Overall satisfaction", "总体满意度"),
        [
            _q(
                "overall_expectation",
                "rating",
                (
                    "Before buying, how high were your expectations of our overall quality?",
                    "购买之前，您对我们整体质量的期望有多高？",
                ),
                satisfaction_dimension="overall",
                csi_latent="Expectation",
            ),
            _q(
                "overall_quality",
                "rating",
                ("How do you rate our overall quality?", "您如何评价我们的整体质量？"),
                satisfaction_dimension="overall",
                csi_latent="Quality",
            ),
            _q(
                "overall_satisfaction",
                "rating",
                ("Overall, how satisfied are you with us?", "总体而言，您对我们满意吗？"),
                satisfaction_dimension="overall",
                csi_latent="Satisfaction",
                required=True,
            ),
            _q(
                "overall_expectations_met",
                "rating",
                (
                    "How well did we meet your expectations?",
                    "我们在多大程度上满足了您的期望？",
                ),
                satisfaction_dimension="overall",
                csi_latent="Satisfaction",
            ),
        ],
    ),
    (
        "product",
        ("Product", "产品"),
        [
            _ep(
                "product_performance",
                ("Product performance", "产品性能"),
                "product.performance",
                "product",
            ),
            _ep("product_price", ("Price", "价格"), "product.price"),
            _ep("product_quality", ("Product quality", "产品质量"), "product.quality", "product"),
            _ep("product_packaging", ("Packaging", "包装"), "product.packaging", "product"),
            _q(
                "product_value_for_money",
                "rating",
                (
                    "Given the quality, how do you rate our prices?",
                    "考虑到质量，您如何评价我们的价格？",
                ),
                satisfaction_dimension="product.price",
                csi_latent="Value",
            ),
            _q(
                "product_money_cost",
                "rating",
                (
                    "How heavy is what you pay us for your budget? (1 = very light, 5 = very heavy)",
                    "您支付的费用对您的预算而言负担有多重？（1 = 很轻，5 = 很重）",
                ),
                satisfaction_dimension="product.price",
                value_dimension="money",
            ),
        ],
    ),
    (
        "service",
        ("Service", "服务"),
        [
            _ep(
                "service_promise",
                ("Keeping our service promises", "服务承诺的兑现"),
                "service.promise",
                "service",
            ),
            _ep(
                "service_content",
                ("Range and content of our service", "服务内容"),
                "service.content",
                "service",
            ),
            _ep(
                "service_response_time",
                ("Response time", "响应速度"),
                "service.response_time",
                "service",
            ),
            _ep(
                "service_staff_attitude",
                ("Attitude of our staff", "员工态度"),
                "service.staff_attitude",
                "personnel",
            ),
            _q(
                "service_ces",
                "ces",
                (
                    "We made it easy for you to get what you needed. (1 = strongly disagree, 7 = strongly agree)",
                    "我们让您轻松地获得了所需的服务。（1 = 非常不同意，7 = 非常同意）",
                ),
                satisfaction_dimension="service.content",
            ),
            _q(
                "service_time_cost",
                "rating",
                (
                    "How much of your time did buying and getting service take? (1 = very little, 5 = a lot)",
                    "购买和获得服务花费了您多少时间？（1 = 很少，5 = 很多）",
                ),
                satisfaction_dimension="service.response_time",
                value_dimension="time",
            ),
            _q(
                "service_energy_cost",
                "rating",
                (
                    "How much effort and worry did dealing with us take? (1 = very little, 5 = a lot)",
                    "与我们打交道花费了您多少精力和心思？（1 = 很少，5 = 很多）",
                ),
                satisfaction_dimension="service.content",
                value_dimension="energy",
            ),
            _q(
                "service_physical_cost",
                "rating",
                (
                    "How much physical effort (travel, waiting, carrying) did it take? (1 = very little, 5 = a lot)",
                    "花费了您多少体力（路程、等待、搬运）？（1 = 很少，5 = 很多）",
                ),
                satisfaction_dimension="service.content",
                value_dimension="physical",
            ),
        ],
    ),
    (
        "communication",
        ("Communication and care", "沟通与关怀"),
        [
            _q(
                "communication_channels",
                "rating",
                (
                    "How satisfied are you with the ways you can reach us?",
                    "您对联系我们的渠道满意吗？",
                ),
                satisfaction_dimension="communication.channels",
            ),
            _q(
                "communication_proactive",
                "rating",
                (
                    "How well do we keep you informed and look after you without being asked?",
                    "我们主动告知信息、关怀您的程度如何？",
                ),
                satisfaction_dimension="communication.proactive",
            ),
        ],
    ),
    (
        "competition",
        ("Comparison with competitors", "与竞争对手比较"),
        [
            _q(
                "competition_comparison",
                "rating",
                (
                    "Compared with other suppliers you know, we are… (1 = much worse, 5 = much better)",
                    "与您了解的其他供应商相比，我们……（1 = 差很多，5 = 好很多）",
                ),
                satisfaction_dimension="competition",
            ),
            _q(
                "competition_reputation",
                "rating",
                ("How do you rate our reputation?", "您如何评价我们的声誉？"),
                satisfaction_dimension="competition",
                value_dimension="image",
                csi_latent="Image",
            ),
            _q(
                "competition_other_supplier",
                "single_choice",
                ("Do you also buy from other suppliers?", "您是否也向其他供应商购买？"),
                satisfaction_dimension="competition",
                options=YES_NO,
            ),
        ],
    ),
    (
        "intent",
        ("Repurchase and recommendation", "再购与推荐意向"),
        [
            _q(
                "intent_repurchase",
                "rating",
                ("How likely are you to buy from us again?", "您再次向我们购买的可能性有多大？"),
                satisfaction_dimension="intent.repurchase",
                csi_latent="Loyalty",
            ),
            _q(
                "intent_recommend",
                "nps",
                (
                    "How likely are you to recommend us to a friend or colleague? (0 = not at all, 10 = extremely)",
                    "您向朋友或同事推荐我们的可能性有多大？（0 = 完全不可能，10 = 极有可能）",
                ),
                satisfaction_dimension="intent.recommend",
                csi_latent="Loyalty",
                required=True,
            ),
        ],
    ),
    (
        "problems",
        ("Problems and suggestions", "问题与建议"),
        [
            _q(
                PROBLEM_EXPERIENCED,
                "single_choice",
                (
                    "Did you have a problem with us in the last 12 months?",
                    "过去12个月内您在与我们的往来中遇到过问题吗？",
                ),
                satisfaction_dimension="problems",
                options=YES_NO,
            ),
            _q(
                PROBLEM_REPORTED,
                "single_choice",
                ("Did you tell us about it?", "您是否向我们反映过？"),
                satisfaction_dimension="problems",
                options=[
                    ("no", ("No", "没有")),
                    ("informal", ("I mentioned it to staff", "向员工提过（抱怨）")),
                    ("formal", ("I made a formal complaint", "正式投诉过")),
                ],
            ),
            _q(
                PROBLEM_RESOLVED,
                "single_choice",
                ("Was it resolved to your satisfaction?", "问题是否得到了令您满意的解决？"),
                satisfaction_dimension="problems",
                options=YES_NO,
            ),
            _q(
                "problem_handling_confidence",
                "rating",
                (
                    "If you had a complaint, how well do you think we would handle it?",
                    "如果您投诉，您认为我们会处理得多好？",
                ),
                satisfaction_dimension="problems",
                csi_latent="Complaints",
            ),
            _q(
                "suggestions",
                "free_text",
                ("What should we improve?", "您对我们有什么建议？"),
                satisfaction_dimension="problems",
            ),
        ],
    ),
]


def _r10(code: str, latent: str, text: T, **kw: Any) -> dict[str, Any]:
    return _q(code, "rating", text, scale_min=1, scale_max=10, csi_latent=latent, **kw)


# Items of the ECSI mobile-phone questionnaire (Tenenhaus et al. 2005, table 1), worded for any
# business; all on 1–10 scales as in the original.
ECSI: list[tuple[str, T, list[dict[str, Any]]]] = [
    (
        "image",
        ("Image", "企业形象"),
        [
            _r10(
                "IMAG1",
                "Image",
                ("It can be trusted in what it says and does.", "它言行可信。"),
                value_dimension="image",
            ),
            _r10(
                "IMAG2", "Image", ("It is stable and firmly established.", "它稳定可靠、根基牢固。")
            ),
            _r10("IMAG3", "Image", ("It contributes to society.", "它对社会有贡献。")),
            _r10("IMAG4", "Image", ("It is concerned with customers.", "它关心客户。")),
            _r10(
                "IMAG5",
                "Image",
                ("It is innovative and forward looking.", "它富有创新、着眼未来。"),
            ),
        ],
    ),
    (
        "expectation",
        ("Expectations", "顾客期望"),
        [
            _r10(
                "CUEX1",
                "Expectation",
                (
                    "When you became a customer, how high were your expectations of its overall quality?",
                    "成为客户时，您对其整体质量的期望有多高？",
                ),
            ),
            _r10(
                "CUEX2",
                "Expectation",
                (
                    "How much did you expect it to meet your personal needs?",
                    "您期望它在多大程度上满足您的个人需求？",
                ),
            ),
            _r10(
                "CUEX3",
                "Expectation",
                (
                    "How reliable did you expect it to be? (1 = things often go wrong, 10 = never)",
                    "您预期它有多可靠？（1 = 经常出问题，10 = 从不出问题）",
                ),
            ),
        ],
    ),
    (
        "quality",
        ("Perceived quality", "感知质量"),
        [
            _r10(
                "PERQ1",
                "Quality",
                ("Overall perceived quality", "总体感知质量"),
                value_dimension="product",
            ),
            _r10(
                "PERQ2",
                "Quality",
                ("Technical quality of the products", "产品的技术质量"),
                value_dimension="product",
            ),
            _r10(
                "PERQ3",
                "Quality",
                ("Customer service and personal advice", "客户服务与个人建议"),
                value_dimension="personnel",
            ),
            _r10(
                "PERQ4",
                "Quality",
                ("Quality of the services you use", "您使用的服务的质量"),
                value_dimension="service",
            ),
            _r10("PERQ5", "Quality", ("Range of products and services", "产品和服务的种类")),
            _r10(
                "PERQ6",
                "Quality",
                ("Reliability and accuracy of products and services", "产品和服务的可靠性与准确性"),
            ),
            _r10(
                "PERQ7",
                "Quality",
                ("Clarity and transparency of information", "信息的清晰与透明"),
            ),
        ],
    ),
    (
        "value",
        ("Perceived value", "感知价值"),
        [
            _r10(
                "PERV1",
                "Value",
                (
                    "Given the quality, how do you rate the prices you pay?",
                    "考虑到质量，您如何评价您支付的价格？",
                ),
            ),
            _r10(
                "PERV2",
                "Value",
                (
                    "Given the prices you pay, how do you rate the quality?",
                    "考虑到您支付的价格，您如何评价质量？",
                ),
            ),
        ],
    ),
    (
        "satisfaction",
        ("Satisfaction", "顾客满意"),
        [
            _r10("CUSA1", "Satisfaction", ("Overall satisfaction", "总体满意度"), required=True),
            _r10(
                "CUSA2",
                "Satisfaction",
                ("How well were your expectations fulfilled?", "您的期望得到了多大程度的满足？"),
            ),
            _r10(
                "CUSA3",
                "Satisfaction",
                (
                    "How close is it to the ideal supplier?",
                    "它与您心目中理想的供应商有多接近？",
                ),
            ),
        ],
    ),
    (
        "complaints",
        ("Complaints", "顾客抱怨"),
        [
            _r10(
                "CUSCO",
                "Complaints",
                (
                    "How well was (or would be) your most recent complaint handled?",
                    "您最近一次投诉处理得（或将会处理得）如何？",
                ),
            ),
        ],
    ),
    (
        "loyalty",
        ("Loyalty", "顾客忠诚"),
        [
            _r10(
                "CUSL1",
                "Loyalty",
                (
                    "If you chose a supplier again, how likely is it that you would choose it?",
                    "如果重新选择供应商，您再次选择它的可能性有多大？",
                ),
            ),
            _r10(
                "CUSL2",
                "Loyalty",
                (
                    "If competitors lowered their prices and it did not, how likely would you be to stay?",
                    "如果竞争对手降价而它不降价，您留下的可能性有多大？",
                ),
            ),
            _r10(
                "CUSL3",
                "Loyalty",
                (
                    "How likely would you be to recommend it to a friend or colleague?",
                    "您向朋友或同事推荐它的可能性有多大？",
                ),
            ),
        ],
    ),
]

TEMPLATES = {"standard": STANDARD, "ecsi": ECSI}
TEMPLATE_NAMES: dict[str, T] = {
    "standard": ("Customer satisfaction survey", "客户满意度调查"),
    "ecsi": ("Customer satisfaction index (ECSI)", "顾客满意度指数调查（ECSI）"),
}


def _pick(text: T, language: str) -> str:
    return text[1] if language == "zh_CN" else text[0]


def _others(language: str) -> list[str]:
    """The template's languages but ``language`` (a survey's second language)."""
    own = "zh_CN" if language == "zh_CN" else "en"
    return [lang for lang in LANGUAGES if lang != own]


def _question_texts(q: dict[str, Any], language: str) -> dict[str, Any]:
    """A template question's texts in ``language``: text, help text, option labels by value."""
    out: dict[str, Any] = {"text": _pick(q["text"], language)}
    if "help_text" in q:
        out["help_text"] = _pick(q["help_text"], language)
    if "options" in q:
        out["options"] = {v: _pick(label, language) for v, label in q["options"]}
    return out


def template_sections(name: str, language: str = "en") -> list[SectionIn]:
    """The sections and questions of a named template in ``language`` (en or zh_CN), with the
    template's other language as their translations (a survey made from a template is complete
    in both languages, so every customer reads it in their own)."""
    if name not in TEMPLATES:
        raise InvalidInput(
            Msg(
                "Unknown template '%(name)s'. Known: %(choices)s.",
                name=name,
                choices=", ".join(TEMPLATES),
            ),
            field="template",
        )
    others = _others(language)
    sections = []
    for code, title, questions in TEMPLATES[name]:
        qs = []
        for q in questions:
            own = _question_texts(q, language)
            data = {**q, **own}
            if "options" in q:
                data["options"] = [OptionIn(value=v, label=lb) for v, lb in own["options"].items()]
            data["translations"] = {lang: _question_texts(q, lang) for lang in others}
            qs.append(QuestionIn(**data))
        sections.append(
            SectionIn(
                code=code,
                title=_pick(title, language),
                questions=qs,
                translations={lang: {"title": _pick(title, lang)} for lang in others},
            )
        )
    return sections


def template_title(name: str, language: str = "en") -> str:
    """The default survey name of a template."""
    return _pick(TEMPLATE_NAMES[name], language)


def template_title_translations(name: str, language: str = "en") -> dict[str, str]:
    """The default survey name of a template in its other languages (``{language: name}``)."""
    return {lang: _pick(TEMPLATE_NAMES[name], lang) for lang in _others(language)}
