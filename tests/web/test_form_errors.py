"""form_errors: the message beside a form field is in the reader's language."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from pydantic import BaseModel, ValidationError, field_validator
from starlette.requests import Request

from retento.core.errors import InvalidInput
from retento.web.render import form_errors


def _request(language: str) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(default_locale="en")))
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/",
            "query_string": b"",
            "headers": [(b"accept-language", language.encode())],
            "app": app,
        }  # fmt: skip
    )


class _Form(BaseModel):
    name: str
    note: str | None = None


def test_a_blank_text_field_is_required_not_an_invalid_string() -> None:
    # A blank form field reaches the model as None: pydantic says "Input should be a valid
    # string"; the reader is told the field is required, in their language.
    try:
        _Form.model_validate({"name": None})
    except ValidationError as exc:
        errors = exc
    assert form_errors(_request("en"), errors) == {"name": "This field is required."}
    assert form_errors(_request("zh-CN"), errors) == {"name": "此项为必填。"}


def test_a_fixed_service_message_is_translated_and_a_variable_one_kept() -> None:
    fixed = InvalidInput("Points must be a non-zero whole number.", field="points")
    assert form_errors(_request("zh-CN"), fixed) == {"points": "积分必须是不为零的整数。"}
    assert form_errors(_request("en"), fixed) == {
        "points": "Points must be a non-zero whole number."
    }
    variable = InvalidInput("Customer 12 does not exist.", field="customer_id")
    assert form_errors(_request("zh-CN"), variable) == {
        "customer_id": "Customer 12 does not exist."
    }


class _Priced(BaseModel):
    price: Decimal

    @field_validator("price", mode="before")
    @classmethod
    def _money(cls, v: object) -> Decimal:
        if v is None:
            raise ValueError("None is not a money amount")
        return Decimal(str(v))


def test_a_blank_field_a_validator_refuses_is_required_too() -> None:
    try:
        _Priced.model_validate({"price": None})
    except ValidationError as exc:
        errors = exc
    assert form_errors(_request("zh-CN"), errors) == {"price": "此项为必填。"}
