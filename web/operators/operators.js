// Operators' console: polls the queue and the open conversation every second, takes,
// answers, hands back and closes through /webhooks/operators/*. Every value from the server
// is inserted with textContent, never as HTML. The token stays in sessionStorage.
"use strict";

(function () {
  const TOKEN_KEY = "operatorToken";
  const POLL_MS = 1000;
  const CHANNELS = { web: "Sito (widget)", whatsapp: "WhatsApp" };
  const LEVELS = {
    visitor: "Visitatore non identificato",
    verified_customer: "Cliente verificato",
    whatsapp_stepped_up: "WhatsApp con verifica OTP",
  };
  const REASONS = {
    explicit_request: "Ha chiesto un operatore",
    two_misunderstandings: "Due risposte non comprese",
    anger: "Cliente insoddisfatto o insistente",
  };
  const BRANDS = { alleanza: "Alleanza", cavita: "CA Vita" };
  const WHO = { customer: "Cliente", assistant: "Assistente virtuale", operator: "Operatore", system: "Avviso" };

  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let current = null; // conversation id shown
  let cursor = 0; // next event index to ask for
  let timer = null;

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function showError(message) {
    const box = $("errore");
    box.textContent = message;
    box.hidden = false;
  }

  function clearError() {
    $("errore").hidden = true;
  }

  async function api(path, options) {
    const init = Object.assign({ headers: {} }, options || {});
    init.headers.Authorization = `Bearer ${token}`;
    if (init.body) init.headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, init);
    } catch (_e) {
      throw new Error("Impossibile contattare il server: controlla la connessione.");
    }
    const data = await res.json().catch(() => ({}));
    if (res.status === 401) {
      logout(data.error ? data.error.message : "Sessione non valida.");
      throw new Error("");
    }
    if (!res.ok) throw new Error((data.error && data.error.message) || "Errore inatteso.");
    return data;
  }

  function post(path, body) {
    return api(path, { method: "POST", body: JSON.stringify(body) });
  }

  function minutes(seconds) {
    const m = Math.floor(seconds / 60);
    return m < 1 ? "meno di un minuto" : m === 1 ? "1 minuto" : `${m} minuti`;
  }

  function describe(req) {
    return `${BRANDS[req.brand] || req.brand} · ${CHANNELS[req.channel] || req.channel} · ${LEVELS[req.identity_level] || req.identity_level}`;
  }

  function item(req, label) {
    const li = el("li");
    li.dataset.conversation = req.conversation_id;
    li.appendChild(el("strong", label));
    li.appendChild(el("span", describe(req), "meta"));
    li.appendChild(el("span", `${REASONS[req.reason] || req.reason} · in attesa da ${minutes(req.waiting_seconds)}`, "meta"));
    if (req.conversation_id === current) li.classList.add("scelta");
    li.tabIndex = 0;
    li.addEventListener("click", () => open(req.conversation_id));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") open(req.conversation_id); });
    return li;
  }

  function drawQueue(data) {
    const waiting = $("elenco-coda");
    waiting.replaceChildren(...data.waiting.map((r) => item(r, `#${r.position} in coda`)));
    $("coda-vuota").hidden = data.waiting.length > 0;
    const mine = $("elenco-miei");
    mine.replaceChildren(...data.mine.map((r) => item(r, "In carico a te")));
    $("miei-vuoto").hidden = data.mine.length > 0;
    $("n-richiami").textContent = String(data.callbacks.length);
    $("elenco-richiami").replaceChildren(...data.callbacks.map((c) => {
      const li = el("li", `${BRANDS[c.brand] || c.brand} · ${CHANNELS[c.channel] || c.channel} · ${LEVELS[c.identity_level] || c.identity_level}\n${c.summary}`, "richiamo");
      return li;
    }));
  }

  function drawMessages(messages) {
    const box = $("trascrizione");
    for (const m of messages) {
      const div = el("div", null, `msg ${m.who}`);
      div.appendChild(el("span", WHO[m.who] || m.who, "chi"));
      div.appendChild(document.createTextNode(m.text));
      box.appendChild(div);
    }
    if (messages.length) box.scrollTop = box.scrollHeight;
  }

  function drawState(data) {
    const req = data.request;
    const mine = req.status === "taken";
    $("conv-info").textContent = `${describe(req)} · ${REASONS[req.reason] || req.reason} · ${mine ? "in carico a te" : "in attesa"}`;
    $("prendi").hidden = mine;
    $("restituisci").hidden = !mine;
    $("chiudi").hidden = !mine;
    $("form-risposta").hidden = !mine;
    if (data.whatsapp_window_open === false) {
      $("avviso").textContent = "Finestra WhatsApp di 24 ore scaduta: non puoi scrivere al cliente.";
    } else if (!data.reachable) {
      $("avviso").textContent = "Questo canale non riceve messaggi dell'operatore.";
    }
  }

  function closeView(message) {
    current = null;
    cursor = 0;
    $("trascrizione").replaceChildren();
    $("conv-info").textContent = message || "Scegli una conversazione dall'elenco.";
    for (const id of ["prendi", "restituisci", "chiudi", "form-risposta"]) $(id).hidden = true;
  }

  async function open(conversation) {
    if (conversation !== current) {
      current = conversation;
      cursor = 0;
      $("trascrizione").replaceChildren();
      $("avviso").textContent = "";
    }
    await refreshConversation();
  }

  async function refreshConversation() {
    if (!current) return;
    const asked = current;
    try {
      const data = await api(`conversation?id=${encodeURIComponent(asked)}&since=${cursor}`);
      if (asked !== current) return;
      if (data.reset) $("trascrizione").replaceChildren();
      drawMessages(data.messages);
      cursor = data.next;
      drawState(data);
    } catch (e) {
      if (e.message) closeView(e.message);
    }
  }

  async function tick() {
    try {
      drawQueue(await api("queue"));
      await refreshConversation();
    } catch (e) {
      if (e.message) showError(e.message);
    }
  }

  async function act(action, extra) {
    if (!current) return;
    clearError();
    $("avviso").textContent = "";
    try {
      await post(action, Object.assign({ conversation_id: current }, extra || {}));
      if (action === "handback") closeView("Conversazione ripassata all'assistente virtuale.");
      else if (action === "close") closeView("Conversazione chiusa.");
      await tick();
      return true;
    } catch (e) {
      if (e.message) $("avviso").textContent = e.message;
      return false;
    }
  }

  function login(newToken) {
    token = newToken.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    api("me").then((me) => {
      clearError();
      $("chi").textContent = me.operator;
      $("marchi").textContent = me.brands.map((b) => BRANDS[b] || b).join(", ");
      $("accesso").hidden = true;
      $("sessione").hidden = false;
      $("lavoro").hidden = false;
      tick();
      timer = setInterval(tick, POLL_MS);
    }).catch((e) => { if (e.message) showError(e.message); });
  }

  function logout(message) {
    if (timer) clearInterval(timer);
    timer = null;
    if (token) fetch("logout", { method: "POST", headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
    token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    closeView();
    $("accesso").hidden = false;
    $("sessione").hidden = true;
    $("lavoro").hidden = true;
    if (message) showError(message);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("form-token").addEventListener("submit", (e) => {
      e.preventDefault();
      if ($("token").value.trim()) login($("token").value);
    });
    $("form-demo").addEventListener("submit", async (e) => {
      e.preventDefault();
      const params = new URLSearchParams({ operator: $("demo-operatore").value, brands: $("demo-marchi").value });
      const res = await fetch(`demo-token?${params}`);
      const data = await res.json().catch(() => ({}));
      if (!res.ok) return showError((data.error && data.error.message) || "Accesso demo non disponibile.");
      login(data.token);
    });
    $("esci").addEventListener("click", () => logout());
    $("prendi").addEventListener("click", () => act("take"));
    $("restituisci").addEventListener("click", () => act("handback"));
    $("chiudi").addEventListener("click", () => act("close"));
    $("form-risposta").addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = $("risposta").value.trim();
      if (!text) return;
      if (await act("send", { text })) $("risposta").value = "";
    });
    if (token) login(token);
  });
})();
