/*
 * Development demo host page: plays the insurer's site. It picks the brand and, for a demo
 * customer (backend_stub seeds, README "Demo customers"), asks the development-only endpoint
 * /webhooks/chat/demo-token for a short-lived customer JWT. Choices are kept in the URL
 * (?brand=cavita&customer=7&scenario=expired&floating=1) so that a link opens the same chat.
 */
(function () {
  "use strict";

  var CUSTOMERS = {
    alleanza: [
      ["1", "Mario Rossi", "più rate non pagate (si pagano dalla più vecchia)"],
      ["2", "Giulia Bianchi", "prodotto di protezione; una polizza in archivio"],
      ["3", "Luca Esposito", "addebito diretto SDD: non pagabile online; altra agenzia"],
      ["4", "Francesca Romano", "arretrati di oltre 6 mesi"],
      ["5", "Costruzioni Verdi S.r.l.", "azienda (partita IVA) con legale rappresentante"],
      ["10", "Elena Marino", "cellulare dispositivo non confermato: niente OTP"]
    ],
    cavita: [
      ["6", "Anna Ferrari", "nessun cellulare: non si può inviare l'OTP"],
      ["7", "Marco Colombo", "archivio: scaduta da 10 mesi visibile, da 30 mesi no; OTP a 5 cifre"],
      ["8", "Sara Ricci", "username diverso dal cellulare dispositivo; recapiti non confermati"],
      ["9", "Davide Greco", "codice fiscale omocodico; protezione; polizza riscattata"],
      ["11", "Agricola Po S.S.", "azienda CA Vita con polizza SDD"]
    ]
  };
  var OTHER = { alleanza: "cavita", cavita: "alleanza" };

  var form = document.getElementById("demo-form");
  var note = document.getElementById("demo-customer-note");
  var params = new URLSearchParams(window.location.search);
  var current = null; // the mounted chat

  function fillCustomers(brand, selected) {
    var select = form.customer;
    select.replaceChildren(new Option("Visitatore non identificato (solo risposte alle FAQ)", ""));
    CUSTOMERS[brand].forEach(function (c) {
      select.appendChild(new Option(c[0] + " – " + c[1], c[0], false, c[0] === selected));
    });
    describe();
  }

  function describe() {
    var brand = form.brand.value, id = form.customer.value;
    var found = CUSTOMERS[brand].filter(function (c) { return c[0] === id; })[0];
    note.textContent = found ? "Cosa mostra: " + found[2] + "." : "Nessun accesso: la chat risponde alle domande generali.";
  }

  function demoToken(customer, brand, expired) {
    var query = "customer=" + encodeURIComponent(customer) + "&brand=" + encodeURIComponent(brand) +
      (expired ? "&expired=1" : "");
    return fetch("/webhooks/chat/demo-token?" + query)
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (body) { return body.token || null; });
  }

  function open() {
    var brand = form.brand.value, customer = form.customer.value;
    var scenario = form.scenario.value, floating = form.floating.checked;
    var query = new URLSearchParams({ brand: brand });
    if (customer) query.set("customer", customer);
    if (scenario) query.set("scenario", scenario);
    if (floating) query.set("floating", "1");
    window.history.replaceState(null, "", "?" + query);

    if (current) current.destroy();
    current = window.AreaClientiChat.mount(document.getElementById("demo-chat"), {
      brand: brand,
      floating: floating,
      // What the insurer's page does: a fresh short-lived token for the logged-in customer,
      // asked again at every (re)connect.
      getToken: function () {
        if (scenario === "invalid") return "non-valido";
        if (scenario === "wrong_brand") return demoToken(CUSTOMERS[OTHER[brand]][0][0], OTHER[brand]);
        if (scenario === "expired") return demoToken(customer || CUSTOMERS[brand][0][0], brand, true);
        return customer ? demoToken(customer, brand) : null;
      }
    });
    window.chat = current; // for the browser's console
  }

  form.brand.value = CUSTOMERS[params.get("brand")] ? params.get("brand") : "alleanza";
  form.scenario.value = params.get("scenario") || "";
  form.floating.checked = params.get("floating") === "1";
  fillCustomers(form.brand.value, params.get("customer") || "");
  form.brand.addEventListener("change", function () { fillCustomers(form.brand.value, ""); });
  form.customer.addEventListener("change", describe);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    open();
  });
  open();
})();
