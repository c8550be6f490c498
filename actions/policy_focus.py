"""The policy the conversation is about, offered back when a form asks which policy.

Why: nobody knows a policy number by heart. A customer who was just refused the payment of
AL10000004 and then asks «e la rata di questo mese?» means the same policy, and a customer
asked «per quale polizza?» would rather pick «la Vita» from their own list than open the
list in another conversation. So the question shows the verified customer's active
policies as buttons, the one in focus first (``policy_in_focus``: the last policy named or
used in this conversation, kept when a form ends or is refused), and the answer may be
«la stessa», «quella di prima» or words of a shown policy's name («la casa»), besides the
number or the button.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Sequence

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendError
from actions.guard import verified_customer
from actions.support import plain
from brand_registry import policy_prefix_pattern

FOCUS_SLOT = "policy_in_focus"
# «CV20000002», «cv 2000 0002», «AL-1000-0001»: people group the digits as on the paper.
POLICY_RE = re.compile(rf"\b({policy_prefix_pattern()})[ .-]?(\d{{4}}[ .-]?\d{{4}})\b",
                       re.IGNORECASE)
MAX_BUTTONS = 5
# «la stessa», «quella di prima», «sempre quella», «questa», «sì» (the focus is named in the
# question, so a yes means it).
_SAME = re.compile(
    r"^(?:(?:si|ok|sempre|proprio|ancora)\s+)*(?:la\s+|lo\s+)?"
    r"(?:stess[ao]|medesim[ao]|quell[ao](?:\s+(?:di\s+prima|di\s+cui\s+parlavamo|li|la))?"
    r"|quest[ao]|solit[ao]|si|esatto|certo)(?:\s+polizza)?$"
)
_STOP = {"la", "il", "lo", "le", "quella", "quello", "polizza", "della", "del", "di", "per",
         "mia", "mio", "con", "una", "un", "e"}


def policy_in(text: Any) -> str | None:
    """The policy number written in ``text``, normalised (``cv 2000 0002`` -> CV20000002)."""
    match = POLICY_RE.search(str(text or ""))
    return f"{match.group(1).upper()}{re.sub(r'[ .-]', '', match.group(2))}" if match else None


def refers_to_focus(text: Any) -> bool:
    """Whether ``text`` means «the policy we were talking about»."""
    words = " ".join(re.findall(r"[a-z]+", plain(str(text or ""))))
    return bool(words) and bool(_SAME.match(words))


# Inside a longer message: «…vorrei riattivarla, sempre sulla stessa polizza».
_NAMES_SAME = re.compile(r"\b(?:(?:stessa|medesima) polizza|sulla stessa|quella di prima"
                         r"|la polizza di prima|quella di cui parlavamo)\b")


def names_focus(text: Any) -> bool:
    """Whether a request written in words says it is about the policy in focus."""
    words = " ".join(re.findall(r"[a-z]+", plain(str(text or ""))))
    return bool(_NAMES_SAME.search(words))


def policy_title(policy: Mapping[str, Any]) -> str:
    name = str(policy.get("product_name") or "").strip()
    return f"{policy.get('number')} · {name}" if name else str(policy.get("number"))


def policy_buttons(
    policies: Sequence[Mapping[str, Any]], focus: str | None
) -> List[Dict[str, str]]:
    """Active policies as buttons, the one in focus first; the payload is the number."""
    active = [p for p in policies if not p.get("archived") and p.get("number")]
    active.sort(key=lambda p: p.get("number") != focus)
    return [{"title": policy_title(p), "payload": str(p["number"])} for p in active[:MAX_BUTTONS]]


def policy_by_words(text: Any, buttons: Sequence[Mapping[str, Any]]) -> str | None:
    """The one shown policy whose title holds every word typed («la casa» -> the Casa one)."""
    typed = {w for w in re.findall(r"[a-z]+", plain(str(text or ""))) if w not in _STOP}
    if not typed or len(typed) > 4:
        return None
    hits = [str(b.get("payload")) for b in buttons
            if typed <= set(re.findall(r"[a-z]+", plain(str(b.get("title") or ""))))]
    return hits[0] if len(hits) == 1 else None


def shown_policy_buttons(tracker: Tracker) -> List[Mapping[str, Any]]:
    """Policy buttons of the assistant's turn that the latest user message answers."""
    users_seen = 0
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            users_seen += 1
            if users_seen == 2:
                break  # back to the turn before the question: nothing shown since
        elif event.get("event") == "bot" and users_seen == 1:
            buttons = (event.get("data") or {}).get("buttons")
            if buttons:
                return [b for b in buttons if policy_in(b.get("payload"))]
    return []


def policy_answer(tracker: Tracker) -> str | None:
    """The policy number the latest message gives when a form asks for one: typed, the
    policy in focus («la stessa»), or a shown policy named by its product («la vita»)."""
    text = (tracker.latest_message or {}).get("text") or ""
    if policy_in(text):
        return text
    focus = tracker.get_slot(FOCUS_SLOT)
    if focus and refers_to_focus(text):
        return str(focus)
    return policy_by_words(text, shown_policy_buttons(tracker))


class ActionAskPolicyNumber(Action):
    """«Per quale polizza?» with the customer's active policies as buttons."""

    def name(self) -> str:
        return "action_ask_policy_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        focus = tracker.get_slot(FOCUS_SLOT)
        buttons: List[Dict[str, str]] = []
        try:
            customer_id = await verified_customer(tracker)
            if customer_id is not None:
                result = await BackendClient().get_policies(customer_id, "active")
                buttons = policy_buttons(list(result.get("policies") or []), focus)
        except BackendError:
            buttons = []  # the plain question still works: the number can be typed
        if not buttons:
            dispatcher.utter_message(response="utter_ask_policy_number")
        elif buttons[0]["payload"] == focus:
            dispatcher.utter_message(response="utter_ask_policy_number_focus", numero=focus,
                                     buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_ask_policy_number_scelta", buttons=buttons)
        return []
