// Thin page over the workflow API: GET /parcels/{id}/transitions, POST a step, POST undo.
// It runs in the signed-in session: the cookie goes with every request (same origin) and writes
// carry the session's CSRF token from GET /auth/me. Steps are recorded as the signed-in user's.
const parcelId = location.pathname.split("/").filter(Boolean).pop();
const form = document.getElementById("step");
const message = document.getElementById("message");
let allowed = [];
let csrfToken = null;
let readOnly = false;
const WRITERS = ["officer", "admin"];

function say(text, error) {
  message.textContent = text;
  message.className = error ? "error" : "";
}

async function call(method, url, body) {
  const headers = {"Accept": "application/json"};
  if (body) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(url, {
    method, headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined,
  });
  if (response.status === 401) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    throw new Error("请先登录");
  }
  const data = await response.json();
  if (!response.ok) throw Object.assign(new Error(data.detail || response.statusText), {status: response.status});
  return data;
}

// The server's message stays on the page. A 409 means the parcel changed since the page read it
// (another officer took a step): show it as it is now, with the steps it may take from there.
async function refused(error) {
  say(error.message, true);
  if (error.status === 409) await load().catch((e) => say(e.message, true));
}

async function signedIn() {
  const me = await call("GET", "/auth/me");
  csrfToken = me.csrf_token;
  // steps are recorded as this user's (经办人)
  document.getElementById("who").textContent = `当前用户: ${me.display_name || me.username} (${me.role_label})`;
  if (!WRITERS.includes(me.role)) {
    readOnly = true;
    for (const element of [...form.elements, document.getElementById("undo")]) element.disabled = true;
    say("您的角色只能查看, 办理更新步骤需经办人员 (officer) 角色");
  }
}

function cell(row, text) { const td = row.insertCell(); td.textContent = text ?? ""; return td; }

function chooseTarget() {
  const t = allowed.find((a) => a.to === form.to_status.value);
  const modes = form.renewal_mode;
  const chosenMode = modes.value;
  modes.length = 1;
  if (!t) return;
  for (const m of t.modes) modes.add(new Option(m.label, m.code));
  if (t.modes.some((m) => m.code === chosenMode)) modes.value = chosenMode;
  modes.required = t.mode === "required";
  form.area_mu.disabled = readOnly || t.area !== "partial";
  form.far_after.disabled = readOnly || !t.records_far;
  form.documents.required = t.documents_required;
  const counts = t.counts.map((c) => (c === "governed" ? "治理面积" : "腾出面积")).join("、");
  document.getElementById("hint").textContent = `${t.label}${counts ? "; 计入" + counts : ""}`;
}

async function load() {
  const [history, colour] = await Promise.all([
    call("GET", `/parcels/${parcelId}/transitions`),
    call("GET", `/parcels/${parcelId}/colour`),
  ]);
  const p = history.parcel;
  document.getElementById("code").textContent = p.land_code;
  document.getElementById("qr").href = `/land-codes/${p.land_code}/qr.png`;
  const state = document.getElementById("state");
  state.replaceChildren();
  for (const [label, value, cls] of [
    ["更新状态", p.renewal_status_label, ""],
    ["面积", `${p.area_mu.toFixed(2)} 亩`, ""],
    ["一码管地", colour.colour_label, colour.colour],
    ["原因", colour.reasons.map((r) => r.reason).join("; "), ""],
  ]) {
    const div = document.createElement("div");
    div.className = cls;
    div.textContent = `${label}: ${value}`;
    state.append(div);
  }
  allowed = history.allowed;
  const chosen = form.to_status.value;  // kept when the parcel may still take that step
  form.to_status.length = 0;
  for (const a of allowed) form.to_status.add(new Option(`${a.to_label} — ${a.label}`, a.to));
  if (allowed.some((a) => a.to === chosen)) form.to_status.value = chosen;
  chooseTarget();
  const body = document.querySelector("#events tbody");
  body.replaceChildren();
  for (const e of history.events) {
    const row = body.insertRow();
    if (e.revoked) row.className = "revoked";
    for (const text of [e.event_date, e.from_label, e.to_label, e.renewal_mode_label, e.area_mu.toFixed(2),
      e.documents.join("; "), e.recorded_by, e.revoked ? `已撤销: ${e.revoke_reason}` : ""]) cell(row, text);
  }
}

form.to_status.addEventListener("change", chooseTarget);
// Today where the officer is: valueAsDate would set the UTC date, which before 08:00 in China is
// still yesterday.
const now = new Date();
form.event_date.value = new Date(now.getTime() - now.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = new FormData(form);
  const body = {
    to_status: f.get("to_status"), event_date: f.get("event_date"),
    renewal_mode: f.get("renewal_mode") || null, note: f.get("note") || null,
    documents: String(f.get("documents") || "").split("\n").map((s) => s.trim()).filter(Boolean),
  };
  if (!form.area_mu.disabled && f.get("area_mu")) body.area_mu = Number(f.get("area_mu"));
  if (!form.far_after.disabled && f.get("far_after")) body.far_after = Number(f.get("far_after"));
  try {
    const e = await call("POST", `/parcels/${parcelId}/transitions`, body);
    say(`已记录: ${e.from_label} → ${e.to_label}`);
    await load();
  } catch (error) { await refused(error); }
});
document.getElementById("undo").addEventListener("click", async () => {
  const reason = prompt("撤销原因");
  if (!reason) return;
  try {
    await call("POST", `/parcels/${parcelId}/transitions/undo`, {reason});
    say("已撤销最近一步");
    await load();
  } catch (error) { await refused(error); }
});
signedIn().then(load).catch((error) => say(error.message, true));
