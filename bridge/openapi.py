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
                 "description": "工单查询、状态更新、回访结果。坐席只能访问本人工单；班长与平台令牌可访问全部；"
                                "运维只管理登录锁定。坐席会话为 Cookie（HttpOnly, SameSite=Strict），修改类请求须带 "
                                "X-CSRF-Token（登录返回的 csrf）；Bearer 令牌无需。"
                                "各接口允许的角色见 bridge.rest.ROUTES。"},
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/api/login": {"post": {"summary": "坐席登录", "security": [], "requestBody": {"content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "agent_id": {"type": "string"}, "password": {"type": "string"}},
                    "required": ["agent_id", "password"]}}}},
                "responses": {"200": {"description": "{token, csrf, agent{id, name, role}}，并设会话 Cookie"},
                              "400": _ERR,
                              "401": {**_ERR, "description": "工号或密码错误（锁定时同样，另带 Retry-After）"}}}},
            "/api/openapi.json": {"get": {"summary": "本文档", "security": [],
                                          "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/api/logout": {"post": {"summary": "坐席退出（清除会话 Cookie）",
                                     "responses": {"200": {"description": "{ok}"}, "401": _ERR, "403": _ERR}}},
            "/api/me": {"get": {"summary": "当前身份、角色与坐席状态",
                                "responses": {"200": {"description": "{kind, role, id, presence, state}"},
                                              "401": _ERR}}},
            "/api/presence": {"post": {"summary": "示闲/示忙（坐席、班长）", "requestBody": {"content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "presence": {"enum": ["available", "away", "offline"]}}, "required": ["presence"]}}}},
                "responses": {"200": {"description": "{agent_id, presence}"}, **_STD}}},
            "/api/security/locks": {"get": {"summary": "登录锁定列表（运维）",
                                            "responses": {"200": {"description": "{locks}"}, **_STD}}},
            "/api/security/locks/{kind}/{key}": {"delete": {
                "summary": "解除登录锁定（运维；kind: user / address）",
                "parameters": [
                    {"name": "kind", "in": "path", "required": True, "schema": {"enum": ["user", "address"]}},
                    {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "{unlocked}"}, **_STD}}},
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
