"""Agency staff look up a customer of their own agency: policies, contacts, open requests.

Who may: only a verified staff token (``identity/tokens.py``: issuer
``area-clienti-staff``, claims ``sub``/``role``/``agency``), re-verified on every action
from the message's ``identity_token``. A customer or an anonymous user typing "polizze del
cliente RSSMRA80A01H501U" gets a polite refusal and the backend is never called, so the
answer cannot tell whether that person exists.

What is searched: the key in the message - codice fiscale, partita IVA, mobile number or
policy number - from the NLU entities (``RegexEntityExtractor``, regexes in
``bot/data/nlu/staff.yml``) or, as a fallback, from the text itself; each candidate is checked
(identity/italian_ids.py and identity/phones.py: check character, check digit, an Italian
mobile) before anything is sent.

Scope and audit are the backend's job: the client sends ``X-Staff-Agency`` and
``X-Staff-Id`` (``BackendClient.for_identity``), customers of other agencies are answered
404 exactly like unknown ones, and every lookup is written to the staff audit. The reply is
therefore the same for "no such customer" and "customer of another agency".

What is shown depends on the intent: ``staff_polizze_cliente`` (active and archived
policies), ``staff_recapiti_cliente`` (masked contacts with their roles and whether they are
confirmed), ``staff_richieste_cliente`` (open tickets, agency requests and payments). The
text is short Italian; a ``json_message`` of type ``staff_lookup`` carries the same data for
the staff page to draw as tables (other channels ignore it: it has no ``text``).

Texts are plain Python strings rather than domain responses: they are for agency staff, are
the same for both brands, and are built from variable-length lists.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Literal

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendRefused, BackendUnavailable
from actions.policies import PRODUCT_LINES, italian_date, policy_line
from actions.staff_views import View, view_asked
from brand_registry import policy_prefix_pattern
from identity import (
    Identity,
    identity_from_tracker,
    mask_fiscal_code,
    mask_phone,
    mask_vat_number,
    valid_fiscal_code,
    valid_mobile,
    valid_vat_number,
)

log = logging.getLogger(__name__)

ACTION_NAME = "action_staff_lookup"
PAYLOAD_TYPE = "staff_lookup"
MAX_CUSTOMERS = 5  # a shared mobile or a legal representative of many companies

# "customer": no key typed, the customer of the previous lookup (customers_in_focus)
KeyKind = Literal["fiscal_code", "vat_number", "mobile", "policy_number", "customer"]

# NLU entity -> backend lookup field, in the order they are tried.
ENTITY_KINDS: Dict[str, KeyKind] = {
    "codice_fiscale": "fiscal_code",
    "partita_iva": "vat_number",
    "policy_number": "policy_number",
    "phone_number": "mobile",
}
KEY_LABELS: Dict[str, str] = {
    "fiscal_code": "codice fiscale",
    "vat_number": "partita IVA",
    "mobile": "numero di cellulare",
    "policy_number": "numero di polizza",
    "customer": "il cliente della ricerca precedente",
}

# --- texts ---------------------------------------------------------------------------

TEXT_NOT_STAFF = (
    "Mi dispiace, la ricerca dei clienti è riservata al personale di agenzia e non posso "
    "mostrare dati di altre persone. Posso invece aiutarti con le tue polizze: chiedimi "
    "ad esempio «le mie polizze»."
)
TEXT_SESSION_EXPIRED = (
    "La tua sessione è scaduta, quindi per sicurezza non posso fare ricerche sui clienti. "
    "Accedi di nuovo alla pagina staff e riprova."
)
TEXT_NO_KEY = (
    "Per cercare un cliente della tua agenzia scrivimi il suo codice fiscale, la partita "
    "IVA, il numero di cellulare o un numero di polizza, ad esempio: «polizze del cliente "
    "RSSMRA80A01H501U» oppure «recapiti di +39 333 1234567»."
)
TEXT_NOT_FOUND = (
    "Non ho trovato nessun cliente della tua agenzia ({agenzia}) con {etichetta} {chiave}. "
    "Controlla il dato; se la persona è cliente di un'altra agenzia, deve rivolgersi a quella."
)
TEXT_BACKEND_DOWN = (
    "In questo momento non riesco a consultare l'archivio clienti. Riprova tra qualche "
    "minuto; se il problema continua, segnalalo all'assistenza tecnica."
)
TEXT_TOO_MANY = (
    "Ti mostro i primi {n} clienti trovati: per restringere la ricerca usa il codice fiscale."
)

TEXT_INVALID_KEY = {
    "fiscal_code": "Il codice fiscale che mi hai scritto non sembra corretto (16 caratteri, "
    "l'ultimo è di controllo): verificalo e riprova, per favore.",
    "vat_number": "La partita IVA che mi hai scritto non sembra corretta (11 cifre, l'ultima "
    "è di controllo): verificala e riprova, per favore.",
    "mobile": "Il numero di cellulare che mi hai scritto non sembra corretto: scrivilo per "
    "intero, ad esempio +39 333 1234567.",
    "policy_number": "Il numero di polizza non sembra corretto: è AL o CV seguito da 8 cifre, "
    "ad esempio AL10000001.",
}

ROLE_LABELS = {
    "username": "username",
    "dispositive": "dispositivo",
    "paperless": "paperless",
    "fea": "FEA",
}
PAYMENT_METHODS = {
    "card": "carta",
    "mybank": "MyBank",
    "sdd": "addebito diretto (SDD)",
    "agency": "in agenzia",
}
REQUEST_KINDS = {
    "claim": "denuncia di sinistro",
    "surrender_total": "riscatto totale",
    "surrender_partial": "riscatto parziale",
    "extra_payment": "versamento aggiuntivo",
    "suspension": "sospensione della copertura",
    "reactivation": "riattivazione della copertura",
    "address_change": "cambio di indirizzo",
}
TICKET_REASONS = {
    "navigazione": "navigazione del sito",
    "informazioni_polizza": "informazioni sulla polizza",
}

# --- search keys ---------------------------------------------------------------------

_CF_DIGIT = "[0-9LMNPQRSTUV]"
CF_RE = re.compile(
    rf"(?<![A-Za-z0-9])[A-Za-z]{{6}}{_CF_DIGIT}{{2}}[A-Za-z]{_CF_DIGIT}{{2}}[A-Za-z]"
    rf"{_CF_DIGIT}{{3}}[A-Za-z](?![A-Za-z0-9])",
    re.IGNORECASE,
)
VAT_RE = re.compile(r"(?<![A-Za-z0-9])(?:IT ?)?\d{11}(?!\d)", re.IGNORECASE)
POLICY_RE = re.compile(rf"(?<![A-Za-z0-9])(?:{policy_prefix_pattern()})[ -]?\d{{8}}(?!\d)",
                       re.IGNORECASE)
PHONE_RE = re.compile(r"(?<![\w+])(?:(?:\+|00)39[ .-]?)?3\d{2}[ .-]?\d{3}[ .-]?\d{3,4}(?!\d)")
_TEXT_PATTERNS: tuple[tuple[KeyKind, re.Pattern[str]], ...] = (
    ("fiscal_code", CF_RE),
    ("vat_number", VAT_RE),
    ("policy_number", POLICY_RE),
    ("mobile", PHONE_RE),
)


def names_a_customer(text: str) -> bool:
    """Whether the text holds something shaped like a search key, valid or not."""
    return any(pattern.search(text) for _, pattern in _TEXT_PATTERNS)


def valid_policy_number(raw: str) -> str | None:
    value = re.sub(r"[\s\-/.]+", "", raw).upper()
    return value if re.fullmatch(r"(AL|CV)\d{8}", value) else None


VALIDATORS = {
    "fiscal_code": valid_fiscal_code,
    "vat_number": valid_vat_number,
    "policy_number": valid_policy_number,
    "mobile": valid_mobile,
}


@dataclass(frozen=True)
class SearchKey:
    kind: KeyKind
    value: str  # normalised, ready for the backend

    @property
    def label(self) -> str:
        return KEY_LABELS[self.kind]

    @property
    def masked(self) -> str:
        """How the key is echoed back and logged: never a full fiscal code or number."""
        if self.kind == "fiscal_code":
            return mask_fiscal_code(self.value)
        if self.kind == "mobile":
            return mask_phone(self.value)
        if self.kind == "vat_number":
            return mask_vat_number(self.value)
        return self.value


@dataclass(frozen=True)
class KeySearch:
    """The usable key, or which kind of key was there but did not validate."""

    key: SearchKey | None = None
    invalid_kind: KeyKind | None = None


FOCUS_KEY = SearchKey("customer", "")


def find_search_key(tracker: Tracker) -> KeySearch:
    """The search key of the latest message."""
    return key_in_message(tracker.latest_message or {})


def previous_intents(tracker: Tracker) -> List[str]:
    """The intents of this session's earlier messages, newest first."""
    said: List[str] = []
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        if event.get("event") == "user":
            said.append(str(((event.get("parse_data") or {}).get("intent") or {}).get("name")))
    return said[1:]


def customers_in_focus(tracker: Tracker) -> List[Any]:
    """Ids of the customers the last lookup of this session showed: «e i suoi recapiti?»
    names no key, and the stored messages hold the keys masked, the lookup's own answer
    holds the ids (scoping and audit apply again when they are read)."""
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        custom = (event.get("data") or {}).get("custom") if event.get("event") == "bot" else None
        if isinstance(custom, dict) and custom.get("type") == PAYLOAD_TYPE:
            return [c["id"] for c in custom.get("customers") or [] if c.get("id")]
    return []


def key_in_message(latest: Dict[str, Any]) -> KeySearch:
    """The search key of one message: entities first (in ENTITY_KINDS order), then its text."""
    entities = [e for e in latest.get("entities") or [] if isinstance(e, dict)]
    invalid: KeyKind | None = None
    for entity, kind in ENTITY_KINDS.items():
        for found in entities:
            if found.get("entity") != entity or not isinstance(found.get("value"), str):
                continue
            value = VALIDATORS[kind](found["value"])
            if value:
                return KeySearch(SearchKey(kind, value))
            invalid = invalid or kind
    text = latest.get("text") if isinstance(latest.get("text"), str) else ""
    for kind, pattern in _TEXT_PATTERNS:
        for match in pattern.finditer(text or ""):
            value = VALIDATORS[kind](match.group())
            if value:
                return KeySearch(SearchKey(kind, value))
            invalid = invalid or kind
    return KeySearch(invalid_kind=invalid)


# --- presenting ----------------------------------------------------------------------


def customer_heading(customer: Dict[str, Any]) -> str:
    """``Mario Rossi (cliente 1, codice fiscale RSS************U)``."""
    details = [f"cliente {customer.get('id')}"]
    if customer.get("fiscal_code_masked"):
        details.append(f"codice fiscale {customer['fiscal_code_masked']}")
    if customer.get("vat_number"):
        details.append(f"partita IVA {customer['vat_number']}")
    legal = customer.get("legal_representative") or {}
    if legal.get("name"):
        details.append(f"legale rappresentante {legal['name']}")
    return f"{customer.get('name')} ({', '.join(details)})"


def policies_text(data: Dict[str, Any]) -> str:
    policies = list(data.get("policies") or [])
    active = [p for p in policies if not p.get("archived")]
    archived = [p for p in policies if p.get("archived")]
    lines = ["Polizze attive:" if active else "Nessuna polizza attiva."]
    lines += [policy_line(p) + _method(p) for p in active]
    if archived:
        lines.append("In archivio:")
        lines += [policy_line(p) for p in archived]
    hidden = int(data.get("hidden_archived_count") or 0)
    if hidden:
        lines.append(
            f"(Non mostrate {hidden} polizze chiuse da oltre 24 mesi.)"
            if hidden > 1
            else "(Non mostrata 1 polizza chiusa da oltre 24 mesi.)"
        )
    return "\n".join(lines)


def _method(policy: Dict[str, Any]) -> str:
    method = policy.get("payment_method")
    if method == "sdd":
        return ""  # policy_line already says it
    return f", pagamento {PAYMENT_METHODS.get(method, method)}" if method else ""


def contact_line(contact: Dict[str, Any]) -> str:
    kind = "cellulare" if contact.get("kind") == "mobile" else "e-mail"
    roles = [ROLE_LABELS.get(r, r) for r in contact.get("roles") or []]
    role_text = ", ".join(roles) if roles else "nessun ruolo"
    state = "confermato" if contact.get("confirmed") else "NON confermato"
    return f"- {kind} {contact.get('masked')}: {role_text}; {state}"


def contacts_text(data: Dict[str, Any]) -> str:
    contacts = list(data.get("contacts") or [])
    if not contacts:
        return "Nessun recapito registrato."
    lines = ["Recapiti:"] + [contact_line(c) for c in contacts]
    if not data.get("dispositive"):
        lines.append(
            "Attenzione: nessun recapito dispositivo, il cliente non può ricevere codici OTP."
        )
    return "\n".join(lines)


def requests_text(data: Dict[str, Any]) -> str:
    lines: List[str] = []
    for ticket in data.get("support_tickets") or []:
        about = TICKET_REASONS.get(ticket.get("reason"), ticket.get("reason"))
        policy = f", polizza {ticket['policy_number']}" if ticket.get("policy_number") else ""
        lines.append(
            f"- ticket {ticket.get('ticket_number')} del {italian_date(ticket.get('created_at'))}: "
            f"{about}{policy}"
        )
    for request in data.get("service_requests") or []:
        kind = REQUEST_KINDS.get(request.get("kind"), request.get("kind"))
        policy = f", polizza {request['policy_number']}" if request.get("policy_number") else ""
        lines.append(
            f"- richiesta {request.get('request_number')} del "
            f"{italian_date(request.get('created_at'))}: {kind}{policy} (ricevuta)"
        )
    for payment in data.get("payment_requests") or []:
        amount = str(payment.get("amount") or "").replace(".", ",")
        state = (
            "in attesa di appuntamento con il consulente"
            if payment.get("status") == "appointment"
            else "link di pagamento in attesa"
        )
        lines.append(
            f"- pagamento {payment.get('request_number')} di {amount} euro, polizza "
            f"{payment.get('policy_number')}: {state}"
        )
    return "Richieste aperte:\n" + "\n".join(lines) if lines else "Nessuna richiesta aperta."


# --- the action ----------------------------------------------------------------------


def refuse_not_staff(dispatcher: CollectingDispatcher, identity: Identity) -> None:
    text = TEXT_SESSION_EXPIRED if identity.reason == "expired" else TEXT_NOT_STAFF
    dispatcher.utter_message(text=text)


async def fetch_view(backend: BackendClient, customer_id: Any, view: View) -> Dict[str, Any]:
    """The data of one customer for the view (backend scoping and audit apply to each call)."""
    data: Dict[str, Any] = {}
    if view in ("policies", "all"):
        data["policies"] = await backend.get_policies(customer_id, "all")
    if view in ("contacts", "all"):
        data["contacts"] = await backend.get_contacts(customer_id)
    if view in ("requests", "all"):
        data["requests"] = await backend.get_open_requests(customer_id)
    return data


def customer_text(customer: Dict[str, Any], data: Dict[str, Any]) -> str:
    parts = [customer_heading(customer) + ":"]
    if "policies" in data:
        parts.append(policies_text(data["policies"]))
    if "contacts" in data:
        parts.append(contacts_text(data["contacts"]))
    if "requests" in data:
        parts.append(requests_text(data["requests"]))
    return "\n".join(parts)


def customer_payload(customer: Dict[str, Any], data: Dict[str, Any]) -> Dict[str, Any]:
    """What the staff page draws: masked data only, as the backend returned it."""
    out: Dict[str, Any] = {
        "id": customer.get("id"),
        "name": customer.get("name"),
        "kind": customer.get("kind"),
        "brand": customer.get("brand"),
        "agency": (customer.get("agency") or {}).get("code"),
        "fiscal_code_masked": customer.get("fiscal_code_masked"),
        "vat_number": customer.get("vat_number"),
        "legal_representative": (customer.get("legal_representative") or {}).get("name"),
    }
    if "policies" in data:
        out["policies"] = [
            {
                "number": p.get("number"),
                "product": p.get("product_name"),
                "line": PRODUCT_LINES.get(p.get("product_line"), p.get("product_line")),
                "status": p.get("status"),
                "archived": bool(p.get("archived")),
                "start_date": p.get("start_date"),
                "end_date": p.get("end_date"),
                "payment_method": PAYMENT_METHODS.get(
                    p.get("payment_method"), p.get("payment_method")
                ),
            }
            for p in data["policies"].get("policies") or []
        ]
        out["hidden_archived_count"] = int(data["policies"].get("hidden_archived_count") or 0)
    if "contacts" in data:
        out["contacts"] = [
            {
                "kind": c.get("kind"),
                "masked": c.get("masked"),
                "roles": list(c.get("roles") or []),
                "confirmed": bool(c.get("confirmed")),
            }
            for c in data["contacts"].get("contacts") or []
        ]
    if "requests" in data:
        requests = data["requests"]
        out["requests"] = {
            "support_tickets": list(requests.get("support_tickets") or []),
            "service_requests": list(requests.get("service_requests") or []),
            "payment_requests": list(requests.get("payment_requests") or []),
        }
    return out


class ActionStaffLookup(Action):
    """Staff lookup of a customer of the staff member's own agency (see module docstring)."""

    def name(self) -> str:
        return ACTION_NAME

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        identity = identity_from_tracker(tracker)
        if identity.kind != "staff" or not identity.agency or not identity.staff_id:
            log.info("staff lookup refused: caller is %s", identity.kind)
            refuse_not_staff(dispatcher, identity)
            return []
        search = find_search_key(tracker)
        focus = customers_in_focus(tracker) if search.key is None else []
        if search.key is None and (search.invalid_kind is not None or not focus):
            if search.invalid_kind is not None:
                dispatcher.utter_message(text=TEXT_INVALID_KEY[search.invalid_kind])
            else:
                dispatcher.utter_message(text=TEXT_NO_KEY)
            return []
        key = search.key or FOCUS_KEY
        view = view_asked(tracker.latest_message or {}, previous_intents(tracker))
        try:
            async with BackendClient.for_identity(identity) as backend:
                if search.key is None:
                    matches = [{"customer": await backend.get_customer(i)} for i in focus]
                else:
                    matches = await self._matches(backend, key)
                results = [
                    (match["customer"], await fetch_view(backend, match["customer"]["id"], view))
                    for match in matches[:MAX_CUSTOMERS]
                ]
        except BackendUnavailable:
            dispatcher.utter_message(text=TEXT_BACKEND_DOWN)
            return []
        except _Invalid:
            dispatcher.utter_message(text=TEXT_INVALID_KEY[key.kind])
            return []
        except BackendRefused as refusal:
            # customer_not_found covers "unknown" and "another agency" alike (also between
            # the lookup and the reads); anything else is answered the same, never guessed at.
            log.info("staff lookup: backend refused (%s)", refusal.code)
            results = []
        log.info(
            "staff lookup: staff=%s agency=%s kind=%s view=%s customers=%d",
            identity.staff_id, identity.agency, key.kind, view, len(results),
        )
        if not results:
            dispatcher.utter_message(
                text=TEXT_NOT_FOUND.format(
                    agenzia=identity.agency, etichetta=key.label, chiave=key.masked
                )
            )
            return []
        text = "\n\n".join(customer_text(c, d) for c, d in results)
        if len(matches) > MAX_CUSTOMERS:
            text += "\n\n" + TEXT_TOO_MANY.format(n=MAX_CUSTOMERS)
        dispatcher.utter_message(
            text=text,
            json_message={
                "type": PAYLOAD_TYPE,
                "view": view,
                "query": {"kind": key.kind, "label": key.label, "masked": key.masked},
                "agency": identity.agency,
                "customers": [customer_payload(c, d) for c, d in results],
                "more": max(0, len(matches) - MAX_CUSTOMERS),
            },
        )
        return []

    @staticmethod
    async def _matches(backend: BackendClient, key: SearchKey) -> List[Dict[str, Any]]:
        try:
            matches = await backend.lookup_customers(**{key.kind: key.value})
        except BackendRefused as refusal:
            if refusal.status == 422 and refusal.code.startswith("invalid_"):
                raise _Invalid from None
            raise
        return [
            m for m in matches if isinstance(m.get("customer"), dict) and m["customer"].get("id")
        ]


class _Invalid(Exception):
    """The backend found the key malformed (its validators are the reference)."""
