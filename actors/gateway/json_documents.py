"""Variables and custom headers on the wire: JSON object strings, as Zeebe's clients send and
expect them.

- In: an empty string means no variables (`{}`); anything else must parse as JSON and be an
  object at the root. NaN and Infinity are refused (not JSON, and the engine's documents are
  JSON). Bad documents are INVALID_ARGUMENT naming the request and the property, in the form
  Zeebe's gateway uses.
- Out: compact JSON, `"{}"` for an empty document; numbers the engine holds as `Decimal`
  (FEEL arithmetic) go out as JSON numbers.
"""

import json
from decimal import Decimal

import grpc

from raybee.actors.gateway.statuses import GatewayError


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse_document(text: str, rpc: str, property_name: str = "variables") -> dict:
    """The JSON object in `text` ({} for an empty string), or INVALID_ARGUMENT."""
    if not text:
        return {}
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise GatewayError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Expected to handle gRPC request {rpc} with a valid JSON document in property "
            f"'{property_name}', but it is not valid JSON: {error}",
        ) from None
    if not isinstance(document, dict):
        raise GatewayError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Property '{property_name}' is invalid: Expected document to be a root level "
            f"object, but was '{_json_type(document)}' (gRPC request {rpc})",
        )
    return document


def _json_type(value) -> str:
    if isinstance(value, list):
        return "ARRAY"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | float):
        return "NUMBER"
    return "NULL" if value is None else type(value).__name__.upper()


def _encode_other(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(document: dict | None) -> str:
    """A document as a compact JSON object string ("{}" when empty)."""
    if not document:
        return "{}"
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=_encode_other)
