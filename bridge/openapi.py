"""OpenAPI 3.1 document of the order API (schemas generated from the pydantic input models)."""

from __future__ import annotations

from typing import Any

from bridge.models import STATUSES
from bridge.validation import DirectResult, FollowUp, OrderEdit, StatusUpdate


def _body(model: Any) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}}}


_ERR = {"description": "错误", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_ORDER = {"description": "工单", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}}
_STD = {"400": _ERR, "401": _ERR, "403": _ERR, "404": _ERR, "422": _ERR}
_NO = {"name": "order_no", "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        m.__name__: m.model_json_schema(ref_template="#/components/schemas/{model}")
        for m in (OrderEdit, StatusUpdate, FollowUp, DirectResult)
    }
    schemas["Error"] = {"type": "object", "properties": {"error": {"type": "string"}, "details": {}},
                        "required": ["error"]}
    schemas["Order"] = {"type": "object", "description": "工单（全部字段，含 history / transcript / previous_orders）",
                        "properties": {"order_no": {"type": "string"}, "status": {"enum": list(STATUSES)},
                                       "request_type": {"type": "string"}, "due_at": {"type": "string"}},
                        "additionalProperties": True}
    q = [{"name": n, "in": "query", "required": False, "schema": s} for n, s in (
        ("status", {"enum": list(STATUSES)}), ("caller_number", {"type": "string"}),
        ("category_code", {"type": "string"}), ("agent_id", {"type": "string"}),
        ("since", {"type": "string", "format": "date-time"}), ("until", {"type": "string", "format": "date-time"}),
        ("limit", {"type": "integer", "minimum": 1, "maximum": 500}), ("offset", {"type": "integer", "minimum": 0}))]
    return {
        "openapi": "3.1.0",
        "info": {"title": "12345 热线工单接口", "version": "1.0.0",
                 "description": "工单查询、状态更新、回访结果。坐席令牌只能访问本人工单；平台令牌可访问全部。"},
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/api/login": {"post": {"summary": "坐席登录", "security": [], "requestBody": {"content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "agent_id": {"type": "string"}, "password": {"type": "string"}},
                    "required": ["agent_id", "password"]}}}},
                "responses": {"200": {"description": "令牌"}, "400": _ERR, "401": _ERR}}},
            "/api/orders": {"get": {"summary": "工单列表", "parameters": q,
                                    "responses": {"200": {"description": "{orders, count}"}, **_STD}}},
            "/api/orders/{order_no}": {
                "get": {"summary": "工单详情", "parameters": [_NO], "responses": {"200": _ORDER, **_STD}},
                "patch": {"summary": "修改工单字段（留痕）", "parameters": [_NO], "requestBody": _body("OrderEdit"),
                          "responses": {"200": _ORDER, **_STD}}},
            "/api/orders/{order_no}/status": {"post": {"summary": "更新状态", "parameters": [_NO],
                                                       "requestBody": _body("StatusUpdate"),
                                                       "responses": {"200": _ORDER, **_STD}}},
            "/api/orders/{order_no}/followup": {"post": {"summary": "回访结果（响应/解决/满意分开记录）",
                                                         "parameters": [_NO], "requestBody": _body("FollowUp"),
                                                         "responses": {"200": _ORDER, **_STD}}},
            "/api/orders/{order_no}/direct": {"post": {"summary": "直办结果", "parameters": [_NO],
                                                       "requestBody": _body("DirectResult"),
                                                       "responses": {"200": _ORDER, **_STD}}},
            "/api/orders/{order_no}/audit": {"get": {"summary": "修改记录", "parameters": [_NO],
                                                     "responses": {"200": {"description": "{audit}"}, **_STD}}},
            "/api/events": {"get": {"summary": "坐席实时事件（SSE，?token=，支持 Last-Event-ID 重放）",
                                    "responses": {"200": {"description": "text/event-stream"}, "401": _ERR}}},
        },
    }
