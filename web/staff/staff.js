// Staff page: sends the staff member's question to /webhooks/staff/webhook with the staff
// token and draws the replies. Every value from the server is inserted with textContent,
// never as HTML. The token is kept in sessionStorage (this tab only) and is checked by
// the server on every request; the claims decoded here are only for display.
"use strict";

(function () {
  const TOKEN_KEY = "staffToken";
  const TEMPLATES = {
    polizze: "polizze del cliente ",
    recapiti: "recapiti del cliente ",
    richieste: "richieste aperte del cliente ",
  };
  const NETWORK_ERROR = "Impossibile contattare il server: controlla la connessione e riprova.";
  const STATUS = { active: "Attiva", expired: "Scaduta", surrendered: "Riscattata" };
  const ROLES = { username: "Username", dispositive: "Dispositivo", paperless: "Paperless", fea: "FEA" };
  const KINDS = {
    claim: "Denuncia di sinistro",
    surrender_total: "Riscatto totale",
    surrender_partial: "Riscatto parziale",
    extra_payment: "Versamento aggiuntivo",
    suspension: "Sospensione",
    reactivation: "Riattivazione",
    address_change: "Cambio indirizzo",
  };
  const REASONS = { navigazione: "Navigazione del sito", informazioni_polizza: "Informazioni sulla polizza" };

  const $ = (id) => document.getElementById(id);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function italianDate(value) {
    const text = String(value || "");
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
    return m ? `${m[3]}/${m[2]}/${m[1]}` : text || "–";
  }

  // The question is shown back masked like the answers: fiscal codes, mobiles and
  // partite IVA typed by the staff member do not stay readable on screen.
  function maskKeys(text) {
    return String(text)
      .replace(/\b([A-Z]{3})[A-Z]{3}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}([A-Z])\b/gi,
        (_m, a, b) => `${a.toUpperCase()}************${b.toUpperCase()}`)
      .replace(/(?:(?:\+|00)39[ .-]?)?3\d{2}[ .-]?\d{3}[ .-]?\d{3,4}\b/g,
        (m) => `+39 *** *** ${m.replace(/\D/g, "").slice(-4)}`)
      .replace(/\b(?:IT ?)?(\d{3})\d{5}(\d{3})\b/gi, "$1*****$2");
  }

  function euro(amount) {
    return amount ? `${String(amount).replace(".", ",")} €` : "–";
  }

  // --- errors and status -------------------------------------------------------------

  function showError(message) {
    const box = $("errore");
    box.textContent = message;
    box.hidden = false;
    box.focus?.();
  }

  function clearError() {
    $("errore").hidden = true;
    $("errore").textContent = "";
  }

  function setStatus(text) {
    $("stato").textContent = text;
  }

  // --- session -------------------------------------------------------------------------

  function claimsOf(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const json = decodeURIComponent(
        atob(part).split("").map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join("")
      );
      return JSON.parse(json);
    } catch (_) {
      return {};
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function showSession() {
    const current = token();
    const loggedIn = Boolean(current);
    $("accesso").hidden = loggedIn;
    $("sessione").hidden = !loggedIn;
    $("ricerca").hidden = !loggedIn;
    if (loggedIn) {
      const claims = claimsOf(current);
      $("chi").textContent = `${claims.sub || "operatore"} – agenzia ${claims.agency || "?"}`;
    }
  }

  function logout(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    showSession();
    if (message) showError(message);
    $("token").focus();
  }

  async function login(candidate) {
    clearError();
    if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(candidate)) {
      showError("Il token non è nel formato corretto: copialo per intero dal portale dell'agenzia.");
      return;
    }
    let reply;
    try {
      reply = await fetch("me", { headers: { Authorization: `Bearer ${candidate}` } });
    } catch (_) {
      showError(NETWORK_ERROR);
      return;
    }
    const body = await reply.json().catch(() => ({}));
    if (!reply.ok) {
      showError(body.error?.message || "Accesso non riuscito.");
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, candidate);
    $("token").value = "";
    showSession();
    $("chiave").focus();
  }

  // --- talking to the assistant ------------------------------------------------------

  function setBusy(busy) {
    document.querySelectorAll("#ricerca button").forEach((b) => (b.disabled = busy));
  }

  async function send(message) {
    clearError();
    const current = token();
    if (!current) {
      logout("Effettua l'accesso per cercare un cliente.");
      return;
    }
    setBusy(true);
    setStatus("Ricerca in corso…");
    let reply;
    try {
      reply = await fetch("webhook", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${current}` },
        body: JSON.stringify({ message }),
      });
    } catch (_) {
      setBusy(false);
      setStatus("");
      showError(NETWORK_ERROR);
      return;
    }
    const body = await reply.json().catch(() => ({}));
    setBusy(false);
    if (reply.status === 401) {
      setStatus("");
      logout(body.error?.message || "La sessione è scaduta: effettua di nuovo l'accesso.");
      return;
    }
    if (!reply.ok) {
      setStatus("");
      showError(body.error?.message || "Si è verificato un problema tecnico: riprova tra qualche istante.");
      return;
    }
    render(message, body.messages || []);
  }

  // --- drawing the replies -----------------------------------------------------------

  function table(caption, headers, rows, cellClass) {
    const t = el("table");
    t.appendChild(el("caption", caption));
    const head = el("tr");
    headers.forEach((h) => {
      const th = el("th", h);
      th.scope = "col";
      head.appendChild(th);
    });
    const thead = el("thead");
    thead.appendChild(head);
    t.appendChild(thead);
    const tbody = el("tbody");
    rows.forEach((row) => {
      const tr = el("tr");
      row.forEach((cell, i) => tr.appendChild(el("td", cell, cellClass ? cellClass(row, i) : "")));
      tbody.appendChild(tr);
    });
    t.appendChild(tbody);
    return t;
  }

  function policyRows(policies) {
    return policies.map((p) => [
      p.number, p.product, p.line, STATUS[p.status] || p.status,
      italianDate(p.start_date), p.end_date ? italianDate(p.end_date) : "–", p.payment_method || "–",
    ]);
  }

  function customerSection(customer) {
    const section = el("section", null, "cliente");
    section.setAttribute("aria-label", `Cliente ${customer.name}`);
    section.appendChild(el("h3", `${customer.name} (cliente ${customer.id})`));
    const facts = [];
    if (customer.fiscal_code_masked) facts.push(`Codice fiscale ${customer.fiscal_code_masked}`);
    if (customer.vat_number) facts.push(`Partita IVA ${customer.vat_number}`);
    if (customer.legal_representative) facts.push(`Legale rappresentante ${customer.legal_representative}`);
    if (customer.agency) facts.push(`Agenzia ${customer.agency}`);
    section.appendChild(el("p", facts.join(" · ")));

    const headers = ["Numero", "Prodotto", "Ramo", "Stato", "Decorrenza", "Fine", "Pagamento"];
    if (customer.policies) {
      const active = customer.policies.filter((p) => !p.archived);
      const archived = customer.policies.filter((p) => p.archived);
      if (active.length) section.appendChild(table("Polizze attive", headers, policyRows(active)));
      else section.appendChild(el("p", "Nessuna polizza attiva.", "vuoto"));
      if (archived.length) section.appendChild(table("Polizze in archivio", headers, policyRows(archived)));
      if (customer.hidden_archived_count) {
        section.appendChild(
          el("p", `Polizze chiuse da oltre 24 mesi non mostrate: ${customer.hidden_archived_count}.`, "vuoto")
        );
      }
    }
    if (customer.contacts) {
      if (customer.contacts.length) {
        const rows = customer.contacts.map((c) => [
          c.kind === "mobile" ? "Cellulare" : "E-mail",
          c.masked,
          (c.roles || []).map((r) => ROLES[r] || r).join(", ") || "–",
          c.confirmed ? "Sì" : "No",
        ]);
        section.appendChild(
          table("Recapiti", ["Tipo", "Recapito", "Ruoli", "Confermato"], rows, (row, i) =>
            i === 3 ? (row[3] === "Sì" ? "si" : "no") : ""
          )
        );
      } else {
        section.appendChild(el("p", "Nessun recapito registrato.", "vuoto"));
      }
    }
    if (customer.requests) {
      const r = customer.requests;
      const rows = [
        ...(r.support_tickets || []).map((t) => [
          "Ticket assistenza", t.ticket_number,
          (REASONS[t.reason] || t.reason) + (t.policy_number ? `, polizza ${t.policy_number}` : ""),
          italianDate(t.created_at), "Aperto",
        ]),
        ...(r.service_requests || []).map((s) => [
          "Richiesta all'agenzia", s.request_number,
          (KINDS[s.kind] || s.kind) + (s.policy_number ? `, polizza ${s.policy_number}` : ""),
          italianDate(s.created_at), "Ricevuta",
        ]),
        ...(r.payment_requests || []).map((p) => [
          "Pagamento", p.request_number, `${euro(p.amount)}, polizza ${p.policy_number}`,
          italianDate(p.created_at), p.status === "appointment" ? "Appuntamento da fissare" : "Link in attesa",
        ]),
      ];
      if (rows.length) {
        section.appendChild(table("Richieste aperte", ["Tipo", "Numero", "Dettaglio", "Data", "Stato"], rows));
      } else {
        section.appendChild(el("p", "Nessuna richiesta aperta.", "vuoto"));
      }
    }
    return section;
  }

  function render(question, messages) {
    const article = el("article", null, "scambio");
    article.appendChild(el("p", `Richiesta: ${maskKeys(question)}`, "domanda"));
    const lookups = messages.filter((m) => m.custom && m.custom.type === "staff_lookup");
    const texts = messages.filter((m) => m.text).map((m) => m.text);
    if (lookups.length) {
      lookups.forEach((m) => (m.custom.customers || []).forEach((c) => article.appendChild(customerSection(c))));
      if (texts.length) {
        const details = el("details");
        details.appendChild(el("summary", "Versione testuale"));
        texts.forEach((t) => details.appendChild(el("p", t, "risposta")));
        article.appendChild(details);
      }
    } else if (texts.length) {
      texts.forEach((t) => article.appendChild(el("p", t, "risposta")));
    } else {
      article.appendChild(el("p", "Nessuna risposta dall'assistente: riprova.", "risposta avviso"));
    }
    messages
      .filter((m) => Array.isArray(m.buttons))
      .forEach((m) =>
        m.buttons.forEach((b) => {
          const button = el("button", b.title);
          button.type = "button";
          button.addEventListener("click", () => send(b.payload || b.title));
          article.appendChild(button);
        })
      );
    $("risultati").hidden = false;
    $("elenco").prepend(article);
    // Announced through the live region; the focus stays where the user typed, so the
    // next search needs no navigation back.
    setStatus(lookups.length ? "Risultati aggiornati." : "Risposta ricevuta.");
  }

  // --- wiring --------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    showSession();

    $("form-token").addEventListener("submit", (event) => {
      event.preventDefault();
      login($("token").value.trim());
    });

    $("form-demo").addEventListener("submit", async (event) => {
      event.preventDefault();
      clearError();
      const params = new URLSearchParams({ agency: $("demo-agenzia").value, staff_id: $("demo-staff").value });
      let reply;
      try {
        reply = await fetch(`demo-token?${params}`);
      } catch (_) {
        showError(NETWORK_ERROR);
        return;
      }
      const body = await reply.json().catch(() => ({}));
      if (reply.status === 404) {
        showError("L'accesso demo non è attivo su questo server (serve DEMO_PAGES=1).");
        return;
      }
      if (!reply.ok || !body.token) {
        showError(body.error?.message || "Token demo non disponibile.");
        return;
      }
      login(body.token);
    });

    $("esci").addEventListener("click", () => {
      logout();
      $("elenco").replaceChildren();
      $("risultati").hidden = true;
    });

    $("form-chiave").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("chiave").value.trim();
      if (!key) {
        showError("Scrivi il codice fiscale, la partita IVA, il cellulare o il numero di polizza del cliente.");
        $("chiave").focus();
        return;
      }
      const view = (event.submitter && event.submitter.value) || "polizze";
      send(TEMPLATES[view] + key);
    });

    $("form-domanda").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("domanda").value.trim();
      if (!text) {
        showError("Scrivi la tua richiesta prima di inviarla.");
        $("domanda").focus();
        return;
      }
      $("domanda").value = "";
      send(text);
    });
  });
})();
