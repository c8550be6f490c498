/*
 * Area Clienti chat widget: small vanilla JS on socket.io-client, both served by the Rasa
 * server (bot/channels/socketio_jwt.py), so no CDN and no build step.
 *
 * The host page (the insurer's site) loads, from the chat server:
 *   <link rel="stylesheet" href="https://CHAT/webhooks/chat/widget/chat.css">
 *   <script src="https://CHAT/webhooks/chat/vendor/socket.io.min.js"></script>
 *   <script src="https://CHAT/webhooks/chat/widget/chat.js"></script>
 * and calls
 *   AreaClientiChat.mount(element, {brand: "alleanza" | "cavita", getToken, floating})
 * getToken() returns (a promise of) the logged-in customer's short-lived JWT, or null for a
 * visitor. It is asked again at every (re)connect, so a reconnect after the token expired
 * carries a fresh one. The server verifies the token and chooses the conversation: the
 * widget never sends an identity or a conversation id of its own, only a visitor's
 * server-signed ticket to resume the same anonymous conversation after a reconnect.
 */
(function () {
  "use strict";

  var BRANDS = {
    alleanza: { name: "Alleanza Assicurazioni", short: "Alleanza" },
    cavita: { name: "CA Vita", short: "CA Vita" }
  };
  var TEXT = {
    connecting: "Connessione in corso…",
    connected: "Connesso",
    connectedCustomer: "Connesso: cliente identificato",
    lost: "Connessione persa: riprovo tra poco…",
    offline: "Chat non disponibile",
    expired: "La sessione dell'Area Clienti è scaduta: ricarica la pagina e accedi di nuovo.",
    refused: "Non riesco a verificare il tuo accesso: ricarica la pagina e accedi di nuovo.",
    typing: "L'assistente sta scrivendo…",
    label: "Scrivi la tua domanda",
    placeholder: "Scrivi qui la tua domanda…",
    send: "Invia",
    you: "Tu: ",
    bot: "Assistente: ",
    operator: "Operatore",
    quickReplies: "Risposte rapide",
    log: "Conversazione",
    open: "Chatta con l'assistente",
    close: "Chiudi la chat"
  };
  var TYPING_TIMEOUT_MS = 30000; // stop the dots if no answer comes at all
  var MAX_CHARS = 2000; // the server cuts longer messages
  var URL_RE = /(https?:\/\/[^\s<>"«»]+[^\s<>"«».,;:!?)])/g;

  // Where this script came from is where the chat server is (the host page may be elsewhere).
  var SCRIPT = document.currentScript;
  var DEFAULT_SERVER = SCRIPT && SCRIPT.src ? new URL(SCRIPT.src).origin : window.location.origin;
  var counter = 0;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; } // blocked in some iframes
  }

  /** Text with line breaks and clickable http(s) links, built without innerHTML. */
  function richText(parent, text) {
    String(text).split("\n").forEach(function (line, i) {
      if (i > 0) parent.appendChild(document.createElement("br"));
      var last = 0;
      line.replace(URL_RE, function (url, _g, offset) {
        if (offset > last) parent.appendChild(document.createTextNode(line.slice(last, offset)));
        var link = el("a", "acc-link", url);
        link.href = url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        parent.appendChild(link);
        last = offset + url.length;
        return url;
      });
      if (last < line.length) parent.appendChild(document.createTextNode(line.slice(last)));
    });
  }

  function Chat(root, options) {
    this.id = "acc-" + (++counter);
    this.root = root;
    this.brand = BRANDS[options.brand] ? options.brand : "alleanza";
    this.getToken = options.getToken || function () { return null; };
    this.server = options.server || DEFAULT_SERVER;
    this.floating = !!options.floating;
    this.sessionId = null;
    // Timestamp of the newest reply shown: after a reconnect the server re-sends the newer
    // ones (replies sent while the connection was down would otherwise be lost). Messages
    // are told apart by timestamp and part (one reply may come as several messages), so a
    // reply that arrives both live and replayed is shown once.
    this.lastBotTs = null;
    this.seenReplies = {};
    this.customer = false; // set once the server confirmed a customer session
    this.refused = false;
    this.pending = null; // the last payload sent, until an answer arrives
    this.storageKey = "acc-visitor-" + this.brand;
    this.build();
    this.connect();
  }

  Chat.prototype.build = function () {
    var brand = BRANDS[this.brand];
    var self = this;
    this.root.classList.add("acc-chat", "acc-brand-" + this.brand);
    if (this.floating) {
      this.root.classList.add("acc-floating");
      this.buildLauncher();
    }

    this.panel = el("section", "acc-panel");
    this.panel.id = this.id + "-panel";
    this.panel.setAttribute("aria-labelledby", this.id + "-title");
    var header = el("header", "acc-header");
    var title = el("h2", "acc-title", "Assistente " + brand.short);
    title.id = this.id + "-title";
    header.appendChild(title);
    this.status = el("p", "acc-status", TEXT.connecting);
    this.status.setAttribute("role", "status");
    header.appendChild(this.status);
    if (this.floating) {
      var close = el("button", "acc-close", "×");
      close.type = "button";
      close.setAttribute("aria-label", TEXT.close);
      close.addEventListener("click", function () { self.setOpen(false); });
      header.appendChild(close);
    }
    this.panel.appendChild(header);

    // role=log: screen readers announce each new message, politely, without moving focus.
    this.log = el("div", "acc-log");
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.log.setAttribute("aria-relevant", "additions");
    this.log.setAttribute("aria-label", TEXT.log);
    this.log.tabIndex = 0; // scrollable with the keyboard
    this.panel.appendChild(this.log);

    this.typing = el("div", "acc-typing");
    this.typing.setAttribute("aria-hidden", "true"); // the answer itself is announced
    this.typing.appendChild(el("span", "acc-dots"));
    this.typing.appendChild(document.createTextNode(TEXT.typing));
    this.typing.hidden = true;
    this.panel.appendChild(this.typing);

    var form = el("form", "acc-form");
    var label = el("label", "acc-visually-hidden", TEXT.label);
    label.htmlFor = this.id + "-input";
    this.input = el("input", "acc-input");
    this.input.id = label.htmlFor;
    this.input.type = "text";
    this.input.autocomplete = "off";
    this.input.maxLength = MAX_CHARS;
    this.input.placeholder = TEXT.placeholder;
    this.input.setAttribute("enterkeyhint", "send");
    this.sendButton = el("button", "acc-send", TEXT.send);
    this.sendButton.type = "submit";
    form.appendChild(label);
    form.appendChild(this.input);
    form.appendChild(this.sendButton);
    this.panel.appendChild(form);
    this.root.appendChild(this.panel);

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = self.input.value.trim();
      if (!text || self.input.disabled) return;
      self.input.value = "";
      self.say(text, text);
      self.input.focus(); // also after a click on "Invia"
    });
    this.root.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && self.floating && self.isOpen()) {
        event.stopPropagation();
        self.setOpen(false);
      }
    });
    this.setEnabled(false);
    if (this.floating) this.setOpen(false);
  };

  Chat.prototype.buildLauncher = function () {
    var self = this;
    this.launcher = el("button", "acc-launcher", TEXT.open);
    this.launcher.type = "button";
    this.launcher.setAttribute("aria-controls", this.id + "-panel");
    this.launcher.addEventListener("click", function () { self.setOpen(!self.isOpen()); });
    this.root.appendChild(this.launcher);
  };

  Chat.prototype.isOpen = function () { return !this.floating || !this.panel.hidden; };

  /** Floating mode: open moves the focus into the input, close gives it back to the launcher. */
  Chat.prototype.setOpen = function (open) {
    this.panel.hidden = !open;
    this.root.classList.toggle("acc-open", open);
    this.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      this.scroll();
      (this.input.disabled ? this.log : this.input).focus();
    } else if (this.panel.contains(document.activeElement)) {
      this.launcher.focus(); // closed from inside: never steal the focus otherwise
    }
  };

  Chat.prototype.setEnabled = function (enabled) {
    this.input.disabled = !enabled;
    this.sendButton.disabled = !enabled;
  };

  Chat.prototype.setStatus = function (text, kind) {
    this.status.textContent = text;
    this.status.className = "acc-status" + (kind ? " acc-status-" + kind : "");
  };

  Chat.prototype.visitorTicket = function () {
    var store = storage();
    try { return store ? JSON.parse(store.getItem(this.storageKey) || "null") : null; }
    catch (e) { return null; }
  };

  Chat.prototype.connect = function () {
    var self = this;
    /* global io */
    this.socket = io(this.server, {
      reconnectionDelay: 1000,
      reconnectionDelayMax: 10000,
      // Called at every (re)connect: a fresh customer token, or the visitor's ticket.
      auth: function (callback) {
        Promise.resolve()
          .then(function () { return self.getToken(); })
          .then(null, function () { return null; })
          .then(function (token) {
            var auth = { brand: self.brand };
            if (token) {
              auth.token = token;
            } else if (self.customer) {
              // Logged out (or the page has no fresh token) since the chat started: never
              // carry on as an anonymous visitor. The server refuses this placeholder.
              self.fail(TEXT.expired);
              auth.token = "-";
            } else {
              var visitor = self.visitorTicket();
              if (visitor && visitor.conversation && visitor.ticket) {
                auth.conversation = visitor.conversation;
                auth.ticket = visitor.ticket;
              }
            }
            callback(auth);
          });
      }
    });

    this.socket.on("connect", function () {
      self.socket.emit("session_request", self.lastBotTs ? { last_bot_ts: self.lastBotTs } : {});
    });
    this.socket.on("session_confirm", function (session) { self.confirmed(session || {}); });
    this.socket.on("bot_uttered", function (message) {
      message = message || {};
      if (typeof message.ts === "number") {
        var key = message.ts + ":" + (message.part || 0);
        if (self.seenReplies[key]) return; // already shown
        self.seenReplies[key] = true;
        if (self.lastBotTs === null || message.ts > self.lastBotTs) self.lastBotTs = message.ts;
      }
      // Live handoff: while an operator holds the conversation, a person answers when they
      // can, so no "the assistant is typing" after the customer's messages.
      if (message.handoff) self.handoff = message.handoff;
      self.addBot(message);
    });
    this.socket.on("connect_error", function (error) {
      self.setEnabled(false);
      if (error && error.data && error.data.code) {
        // Refused by the server (invalid, expired or other-brand token): a retry would not help.
        self.fail(error.message || TEXT.refused);
      } else if (!self.refused) {
        self.setStatus(TEXT.lost, "warn");
      }
    });
    this.socket.on("auth_error", function (data) {
      // The customer's token expired during the conversation: reconnect, which asks the page
      // for a fresh token (none: the auth step above says the session is over), and send
      // the unanswered message again.
      self.setEnabled(false);
      self.hideTyping();
      if (data && data.code === "expired" && self.customer) {
        self.resend = self.pending;
        self.socket.disconnect();
        self.socket.connect();
      } else {
        self.fail((data && data.message) || TEXT.refused);
      }
    });
    this.socket.on("disconnect", function (reason) {
      self.setEnabled(false);
      self.hideTyping();
      if (reason !== "io client disconnect" && !self.refused) self.setStatus(TEXT.lost, "warn");
    });
  };

  Chat.prototype.confirmed = function (session) {
    var first = this.sessionId === null;
    this.sessionId = session.session_id || null;
    this.customer = !!session.customer;
    this.root.dataset.session = this.customer ? "cliente" : "visitatore";
    if (session.ticket) {
      var store = storage();
      try {
        if (store) {
          store.setItem(this.storageKey,
            JSON.stringify({ conversation: session.session_id, ticket: session.ticket }));
        }
      } catch (e) { /* storage full or blocked: the visitor just starts afresh after a reload */ }
    }
    this.setStatus(this.customer ? TEXT.connectedCustomer : TEXT.connected, "ok");
    this.setEnabled(true);
    // Opened before the connection was up: the focus waited on the log, now the input is ready.
    if (document.activeElement === this.log && this.floating) this.input.focus();
    if (first) {
      var brand = BRANDS[this.brand];
      this.addBot({
        text: "Ciao! Sono l'assistente virtuale dell'Area Clienti " + brand.name + ". " +
          (this.customer
            ? "Hai effettuato l'accesso: posso anche mostrarti le tue polizze e i tuoi recapiti."
            : "Come posso aiutarti?")
      }, true);
    }
    if (this.resend) {
      var payload = this.resend;
      this.resend = null;
      this.emit(payload);
    }
  };

  /** Refused or logged out: show it (status and an alert in the log) and stop retrying. */
  Chat.prototype.fail = function (text) {
    if (this.refused) return;
    this.refused = true;
    this.socket.io.reconnection(false);
    this.setEnabled(false);
    this.hideTyping();
    this.root.classList.add("acc-refused");
    this.setStatus(TEXT.offline, "error"); // the reason is in the alert below
    var item = el("div", "acc-msg acc-error", text);
    item.setAttribute("role", "alert");
    this.log.appendChild(item);
    this.scroll();
  };

  Chat.prototype.say = function (text, payload) {
    // Earlier quick replies answer earlier questions: they go stale once the user moves on.
    this.log.querySelectorAll(".acc-quick").forEach(function (b) { b.disabled = true; });
    this.addUser(text);
    this.emit(payload);
  };

  Chat.prototype.emit = function (payload) {
    this.pending = payload;
    this.socket.emit("user_uttered", { message: payload });
    if (this.handoff !== "held") this.showTyping();
  };

  Chat.prototype.addUser = function (text) {
    var item = el("div", "acc-msg acc-user");
    item.appendChild(el("span", "acc-visually-hidden", TEXT.you));
    item.appendChild(document.createTextNode(text));
    this.log.appendChild(item);
    this.scroll();
  };

  Chat.prototype.addBot = function (message, local) {
    if (!local) {
      this.pending = null;
      this.hideTyping();
    }
    var buttons = message.quick_replies || message.buttons || [];
    var image = message.attachment && message.attachment.type === "image" &&
      message.attachment.payload && message.attachment.payload.src;
    if (!message.text && !buttons.length && !image) return; // e.g. custom JSON: not for people
    var item = el("div", "acc-msg acc-bot");
    if (message.sender === "operator") {
      // A person of the assistance writes (live handoff): say so, visibly.
      item.className += " acc-operator";
      item.appendChild(el("span", "acc-sender", TEXT.operator));
    } else {
      item.appendChild(el("span", "acc-visually-hidden", TEXT.bot));
    }
    if (message.text) richText(item, message.text);
    if (image) {
      var img = el("img", "acc-image");
      img.src = image;
      img.alt = "";
      item.appendChild(img);
    }
    this.log.appendChild(item);
    if (buttons.length) this.addButtons(buttons);
    this.scroll(item);
  };

  Chat.prototype.addButtons = function (buttons) {
    var self = this;
    var group = el("div", "acc-quick-replies");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", TEXT.quickReplies);
    buttons.forEach(function (button) {
      if (!button || !button.title) return;
      var b = el("button", "acc-quick", button.title);
      b.type = "button";
      b.addEventListener("click", function () {
        if (self.input.disabled) return;
        self.say(button.title, button.payload || button.title); // shows the title, sends the payload
        self.input.focus();
      });
      group.appendChild(b);
    });
    this.log.appendChild(group);
  };

  Chat.prototype.showTyping = function () {
    var self = this;
    this.typing.hidden = false;
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(function () { self.hideTyping(); }, TYPING_TIMEOUT_MS);
    this.scroll();
  };

  Chat.prototype.hideTyping = function () {
    clearTimeout(this.typingTimer);
    this.typing.hidden = true;
  };

  /** To the bottom; but a long answer shows from its first line, where reading starts. */
  Chat.prototype.scroll = function (from) {
    var bottom = this.log.scrollHeight - this.log.clientHeight;
    this.log.scrollTop = from ? Math.min(bottom, from.offsetTop - 8) : bottom;
  };

  /** Stop the connection and remove the widget (e.g. when the customer logs out). */
  Chat.prototype.destroy = function () {
    this.hideTyping();
    this.socket.disconnect();
    this.root.replaceChildren();
    this.root.classList.remove("acc-chat", "acc-brand-" + this.brand, "acc-floating", "acc-open",
      "acc-refused");
  };

  window.AreaClientiChat = {
    mount: function (element, options) { return new Chat(element, options || {}); },
    brands: Object.keys(BRANDS)
  };
})();
