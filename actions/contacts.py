"""Which mobile is the customer's dispositive contact (masked) and how to change it."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendError
from actions.guard import backend_down, require_customer


class ActionMostraRecapitoDispositivo(Action):
    """The dispositive mobile, masked (``+39 *** *** 4567``), whether it is confirmed,
    then the brand's own instructions to change it (utter_faq_recapito_dispositivo_modifica,
    brand-conditional in domain/codici_recapiti.yml)."""

    def name(self) -> str:
        return "action_mostra_recapito_dispositivo"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        access = await require_customer(dispatcher, tracker, self.name())
        if not access.allowed:
            return access.events
        try:
            contacts = await BackendClient().get_contacts(access.customer_id)
        except BackendError:
            backend_down(dispatcher)
            return access.events
        dispositive = contacts.get("dispositive")
        if not dispositive:
            dispatcher.utter_message(response="utter_recapito_dispositivo_assente")
        elif dispositive.get("confirmed"):
            dispatcher.utter_message(
                response="utter_recapito_dispositivo_attuale", numero=dispositive.get("masked")
            )
        else:
            dispatcher.utter_message(
                response="utter_recapito_dispositivo_non_confermato",
                numero=dispositive.get("masked"),
            )
        dispatcher.utter_message(response="utter_faq_recapito_dispositivo_modifica")
        return access.events
