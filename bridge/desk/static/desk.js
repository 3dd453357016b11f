"use strict";
// 12345 坐席工作台: login, live screen pops over SSE (EventSource reconnects and resends Last-Event-ID),
// order editing (every save is audited on the server), 直办 marking.  The session is an HttpOnly SameSite=Strict
// cookie; every state-changing request carries the session's CSRF token (X-CSRF-Token).  An expired session
// answers 401 and the login shows again.
(function () {
  const $ = (id) => document.getElementById(id);
  const URG = { normal: "一般", urgent: "紧急", emergency: "特急" };
  const STATUS = { new: "新建", assigned: "已分配", in_progress: "办理中", handled_directly: "直办办结",
    dispatched: "已转办", callback_pending: "待回拨", closed: "已办结", abandoned: "来电放弃" };
  let csrf = sessionStorage.getItem("desk.csrf");
  let agent = JSON.parse(sessionStorage.getItem("desk.agent") || "null");
  let current = null;
  let es = null;

  function msg(text, ok) { const m = $("msg"); m.textContent = text; m.className = ok ? "ok" : "err"; }

  async function api(method, path, body) {
    const r = await fetch(path, { method, credentials: "same-origin", headers: { "content-type": "application/json",
      "x-csrf-token": csrf || "" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await r.json().catch(() => ({ error: "响应无效" }));
    if (r.status === 401) { logout(); throw new Error("登录已过期，请重新登录"); }
    if (!r.ok) {
      const details = (data.details || []).map((d) => d.field + ": " + d.message).join("；");
      throw new Error((data.error || r.status) + (details ? "（" + details + "）" : ""));
    }
    return data;
  }

  function fmt(t) { return t ? new Date(t).toLocaleString("zh-CN", { hour12: false }) : "—"; }

  function show(data) {
    const o = data.order;
    current = o.order_no;
    $("waiting").hidden = true;
    $("pop").hidden = false;
    $("order-no").textContent = o.order_no;
    $("caller").textContent = o.caller_number || "";
    $("call-time").textContent = fmt(o.call_time);
    $("due").textContent = fmt(o.due_at);
    $("status").textContent = STATUS[o.status] || o.status;
    const repeat = data.repeat_caller || o.repeat_caller;
    $("repeat-badge").hidden = !repeat;
    $("repeat-badge").textContent = repeat ? "老户" : "";
    $("call-count").textContent = String(data.call_count || o.call_count || 1);
    const f = $("order-form");
    for (const el of f.elements) {
      if (!el.name) continue;
      const v = o[el.name];
      if (el.name === "confidential") el.value = v ? "true" : "false";
      else if (el.name === "handling_mode") el.value = v || "转办";
      else el.value = v == null ? "" : v;
    }
    $("direct-result").value = o.direct_result || "";
    const tr = $("transcript"); tr.textContent = "";
    for (const t of o.transcript || []) {
      const li = document.createElement("li");
      li.textContent = (t.speaker === "caller" ? "来电人：" : "系统：") + t.text; tr.appendChild(li);
    }
    const h = $("history"); h.textContent = "";
    for (const p of o.previous_orders || []) {
      const li = document.createElement("li");
      li.textContent = p.order_no + " · " + fmt(p.call_time) + " · " + (p.request_type || "") + " · " +
        (p.category_name || "") + " · " + (p.title || "") + " · " + (STATUS[p.status] || p.status);
      h.appendChild(li);
    }
    if (!(o.previous_orders || []).length) { const li = document.createElement("li"); li.textContent = "无"; h.appendChild(li); }
  }

  function connect() {
    if (es) es.close();
    es = new EventSource("/api/events");
    es.onopen = () => { $("conn").textContent = "实时连接正常"; $("conn").className = "on"; };
    es.onerror = () => {
      $("conn").textContent = "连接中断，正在重连…"; $("conn").className = "off";
      if (es && es.readyState === EventSource.CLOSED) refreshMe();  // refused (401: session over) → login
    };
    es.addEventListener("pop", (e) => { window.deskLastEventId = e.lastEventId; show(JSON.parse(e.data)); msg("新来电工单已弹屏", true); });
    es.addEventListener("order", (e) => {
      window.deskLastEventId = e.lastEventId;
      const d = JSON.parse(e.data);
      const st = d.order ? d.order.status : d.status;
      if (d.order_no === current && st) $("status").textContent = STATUS[st] || st;
    });
  }

  async function refreshMe() {
    try {
      const me = await api("GET", "/api/me"); $("presence").textContent = me.presence === "available" ? "空闲" : "忙碌/离线";
      if (es && es.readyState === EventSource.CLOSED && me.role !== "operator") setTimeout(connect, 3000);
    }
    catch (e) { /* shown on next action */ }
  }

  function enter() {
    $("login").hidden = true; $("desk").hidden = false; $("presence-box").hidden = false; $("logout").hidden = false;
    $("who").textContent = agent ? agent.name + "（" + agent.id + "）" : "";
    connect(); refreshMe();
  }

  function logout() {
    if (es) es.close(); es = null; csrf = null; sessionStorage.clear();
    $("login").hidden = false; $("desk").hidden = true; $("presence-box").hidden = true; $("logout").hidden = true;
    $("conn").textContent = "未连接"; $("conn").className = "off";
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await fetch("/api/login", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ agent_id: $("agent-id").value.trim(), password: $("password").value }) });
      const d = await r.json();
      if (!r.ok) throw new Error(d.error || "登录失败");
      csrf = d.csrf; agent = d.agent;
      sessionStorage.setItem("desk.csrf", csrf); sessionStorage.setItem("desk.agent", JSON.stringify(agent));
      enter();
    } catch (e) { msg(e.message); }
  });

  $("order-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current) return;
    const body = {};
    for (const el of ev.target.elements) {
      if (!el.name) continue;
      if (el.name === "confidential") body[el.name] = el.value === "true";
      else body[el.name] = el.value === "" ? null : el.value;
    }
    try { const o = await api("PATCH", "/api/orders/" + encodeURIComponent(current), body); $("status").textContent = STATUS[o.status] || o.status; msg("已保存（修改已留痕）", true); }
    catch (e) { msg("保存失败：" + e.message); }
  });

  $("direct-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current) return;
    try { const o = await api("POST", "/api/orders/" + encodeURIComponent(current) + "/direct", { result: $("direct-result").value });
      $("status").textContent = STATUS[o.status] || o.status; msg("已标记直办办结", true); }
    catch (e) { msg("标记失败：" + e.message); }
  });

  $("btn-available").addEventListener("click", async () => { try { await api("POST", "/api/presence", { presence: "available" }); refreshMe(); } catch (e) { msg(e.message); } });
  $("btn-away").addEventListener("click", async () => { try { await api("POST", "/api/presence", { presence: "away" }); refreshMe(); } catch (e) { msg(e.message); } });
  $("logout").addEventListener("click", async () => { try { await api("POST", "/api/logout"); } catch (e) { /* gone */ } logout(); });

  if (csrf) enter();
})();
