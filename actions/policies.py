"""List the verified customer's policies: active ones and the archive."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendError
from actions.guard import backend_down, require_customer

PRODUCT_LINES = {
    "vita": "Vita",
    "danni": "Danni",
    "protezione": "Protezione",
    "previdenza": "Previdenza",
}
STATUS = {"expired": "scaduta", "surrendered": "riscattata", "active": "attiva"}


def italian_date(value: Any) -> str:
    """``2025-03-01`` -> ``01/03/2025`` (anything else unchanged)."""
    text = str(value or "")
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        return f"{text[8:10]}/{text[5:7]}/{text[0:4]}"
    return text


def policy_line(policy: Dict[str, Any]) -> str:
    line = PRODUCT_LINES.get(policy.get("product_line"), policy.get("product_line", ""))
    text = f"- {policy.get('number')}: {policy.get('product_name')} ({line})"
    if policy.get("archived"):
        status = STATUS.get(policy.get("status"), policy.get("status"))
        end = italian_date(policy.get("end_date"))
        text += f", {status}" + (f" il {end}" if end else "")
    elif policy.get("payment_method") == "sdd":
        text += ", pagata con addebito diretto (SDD)"
    return text


class ActionMostraPolizze(Action):
    """Active and archived policies of the verified customer (backend applies the brand's
    archive window: CA Vita shows policies ended within 24 months)."""

    def name(self) -> str:
        return "action_mostra_polizze"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        access = await require_customer(dispatcher, tracker, self.name())
        if not access.allowed:
            return access.events
        try:
            result = await BackendClient().get_policies(access.customer_id, "all")
        except BackendError:
            backend_down(dispatcher)
            return access.events
        policies = list(result.get("policies") or [])
        active = [p for p in policies if not p.get("archived")]
        archived = [p for p in policies if p.get("archived")]
        if active:
            dispatcher.utter_message(
                response="utter_polizze_attive",
                elenco="\n".join(policy_line(p) for p in active),
            )
        else:
            dispatcher.utter_message(response="utter_nessuna_polizza_attiva")
        if archived:
            dispatcher.utter_message(
                response="utter_polizze_archiviate",
                elenco="\n".join(policy_line(p) for p in archived),
            )
        return access.events
