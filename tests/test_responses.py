"""Answers are faithful to each insurer's seed document and picked by brand.

Every fact checked here must appear both in the rendered answer and in that brand's seed
(tests/conftest.py SEED_FILES), so the table cannot drift away from the source material.
"""

from __future__ import annotations

import asyncio
import re

import pytest
import yaml
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from tests.conftest import ROOT, SEED_FILES

# (response, brand, fact in the answer, the same fact as the seed words it, if different)
FACTS = [
    ("utter_faq_codice_verifica", "alleanza", "6 cifre", None),
    ("utter_faq_codice_verifica", "alleanza", "120 secondi", None),
    ("utter_faq_codice_verifica", "alleanza", "5 minuti", None),
    ("utter_faq_codice_verifica", "alleanza", "Richiedi nuovo codice", None),
    ("utter_faq_codice_verifica", "cavita", "5 cifre", None),
    ("utter_faq_codice_errato", "alleanza", "6 cifre", None),
    ("utter_faq_codice_errato", "alleanza", "5 minuti", None),
    ("utter_faq_codice_errato", "alleanza", "120 secondi", None),
    ("utter_faq_codice_errato", "cavita", "5 cifre", None),
    ("utter_faq_codice_errato", "cavita", "verifica codice", None),
    ("utter_faq_accesso", "alleanza", "6 cifre", None),
    ("utter_faq_accesso", "alleanza", "Consulente", None),
    ("utter_faq_accesso", "cavita", "areaclienti.ca-vita.it", None),
    ("utter_faq_registrazione", "alleanza", "da 8 a 16 caratteri", "tra gli 8 e i 16 caratteri"),
    ("utter_faq_registrazione", "alleanza", "maiuscola", None),
    ("utter_faq_registrazione", "alleanza", "polizza attiva", None),
    ("utter_faq_registrazione", "alleanza", "Messaggi bloccati e spam", None),
    ("utter_faq_registrazione", "cavita", "OTP a 5 cifre", None),
    ("utter_faq_registrazione", "cavita", "«Registrazione»", None),
    ("utter_faq_registrazione", "cavita", "verifica codice", None),
    ("utter_faq_registrazione_requisiti", "alleanza", "polizza attiva", None),
    ("utter_faq_registrazione_requisiti", "alleanza", "recapito cellulare", None),
    ("utter_faq_registrazione_requisiti", "cavita", "24 mesi", None),
    ("utter_faq_registrazione_requisiti", "cavita", "Contraente", None),
    ("utter_faq_registrazione_requisiti", "cavita", "Aderente", None),
    ("utter_faq_registrazione_requisiti", "cavita", "Avente diritto all'attestato", None),
    ("utter_faq_registrazione_codice_non_arrivato", "alleanza", "Messaggi bloccati e spam", None),
    ("utter_faq_registrazione_codice_non_arrivato", "alleanza", "Richiedi nuovo codice", None),
    ("utter_faq_registrazione_codice_non_arrivato", "alleanza", "48 ore", None),
    ("utter_faq_registrazione_codice_non_arrivato", "alleanza", "numero della tua polizza", None),
    ("utter_faq_registrazione_codice_non_arrivato", "cavita", "5 cifre", None),
    ("utter_faq_codice_non_ricevuto", "alleanza", "Messaggi bloccati e spam", None),
    ("utter_faq_codice_non_ricevuto", "alleanza", "numero generico", None),
    ("utter_faq_codice_non_ricevuto", "alleanza", "Richiedi nuovo codice", None),
    ("utter_faq_codice_non_ricevuto", "alleanza", "Recapito per operazioni dispositive", None),
    ("utter_faq_codice_non_ricevuto", "alleanza", "Autenticazione", None),
    ("utter_faq_codice_non_ricevuto", "cavita", "9:00-13:30", None),
    ("utter_faq_recapito_dispositivo", "alleanza", "furti d'identità", "furti di identità"),
    ("utter_faq_recapito_dispositivo_modifica", "alleanza", "Recapiti digitali", None),
    ("utter_faq_recapito_dispositivo_modifica", "alleanza", "Recapito per operazioni", None),
    ("utter_faq_sicurezza_operazioni", "alleanza", "6 cifre", None),
    ("utter_faq_sicurezza_operazioni", "cavita", "video selfie", None),
    ("utter_faq_operazioni_dispositive", "alleanza", "RITA", None),
    ("utter_faq_operazioni_dispositive", "alleanza", "Switch e Trasferimento", None),
    ("utter_faq_operazioni_dispositive", "cavita", "1° luglio", "1 luglio"),
    ("utter_faq_operazioni_dispositive", "cavita", "riscatto totale o parziale", None),
    ("utter_faq_modifica_credenziali", "alleanza", "Dati di accesso Area Clienti", None),
    ("utter_faq_modifica_credenziali", "alleanza", "Dati Account", None),
    ("utter_faq_recapito_non_valido", "alleanza", "Consulente", None),
    ("utter_faq_recapito_confermato", "alleanza", "non si può modificare in autonomia",
     "non è possibile modificare un recapito confermato in autonomia"),
    ("utter_faq_conferma_email", "alleanza", "«Conferma»", "\"Conferma\""),
    ("utter_faq_ruoli_recapiti", "alleanza", "Firma Elettronica Avanzata", None),
    ("utter_faq_ruoli_recapiti", "alleanza", "nome utente", None),
    ("utter_faq_ruoli_recapiti", "alleanza", "dematerializzazione", None),
    ("utter_faq_modifica_indirizzo", "alleanza", "qualche giorno", None),
    ("utter_faq_modifica_indirizzo", "alleanza", "I miei recapiti", None),
    ("utter_faq_documento_identita", "alleanza", ".jpeg", None),
    ("utter_faq_documento_identita", "alleanza", ".pdf", None),
    ("utter_faq_documento_identita", "cavita", "avvia video selfie", None),
    ("utter_faq_documento_identita", "cavita", "in alto a destra", None),
    ("utter_faq_documentazione_elettronica", "alleanza", "Dematerializzazione", None),
    ("utter_faq_documentazione_elettronica", "alleanza", "Privacy e consensi", None),
    ("utter_faq_persona_giuridica", "alleanza", "Persone Fisiche Collegate", None),
    ("utter_faq_polizza_non_visibile", "alleanza", "Archivio Documenti", None),
    ("utter_faq_polizza_non_visibile", "alleanza", "Archivio polizze", None),
    ("utter_faq_polizza_non_visibile", "cavita", "24 mesi", None),
    ("utter_faq_pagamenti_cosa", "alleanza", "Vita e Danni", None),
    ("utter_faq_pagamenti_cosa", "cavita", "antiriciclaggio", None),
    ("utter_faq_metodi_pagamento", "alleanza", "Visa, MasterCard", None),
    ("utter_faq_metodi_pagamento", "alleanza", "MyBank", None),
    ("utter_faq_dove_pagare", "alleanza", "sei mesi", None),
    ("utter_faq_dove_pagare", "alleanza", "meno recente", None),
    ("utter_faq_dove_pagare", "alleanza", "salti rata", None),
    ("utter_faq_pagamento_sdd", "alleanza", "SDD", None),
    ("utter_faq_rate_scadute", "alleanza", "sei mesi", None),
    ("utter_faq_pagamento_protezione", "alleanza", "30 giorni", None),
    ("utter_faq_pagamento_protezione", "alleanza", "salti di rata", None),
    ("utter_faq_ricevuta_pagamento", "alleanza", "Archivio Documenti", None),
    ("utter_faq_versamento_aggiuntivo", "alleanza", "appuntamento", None),
    ("utter_faq_versamento_aggiuntivo", "cavita", "sanzioni internazionali", None),
    ("utter_faq_versamento_aggiuntivo_non_visibile", "alleanza", "nuovo contratto", None),
    ("utter_faq_sinistro", "alleanza", "Agenzia", None),
    ("utter_faq_sinistro", "cavita", "residenza fiscale", None),
    ("utter_faq_riscatto", "alleanza", "totale o parziale", None),
    ("utter_faq_riscatto", "cavita", "totale o parziale", None),
    ("utter_faq_sospensione_riattivazione", "cavita", "eventualmente l'ora", None),
    ("utter_faq_credenziali_dimenticate", "alleanza", "Hai dimenticato le tue credenziali?", None),
    ("utter_faq_credenziali_dimenticate", "cavita", "password dimenticata?", None),
    ("utter_faq_gia_registrato", "cavita", "consultativ", None),
    ("utter_faq_video_selfie", "cavita", "parola chiave", None),
    ("utter_faq_video_selfie", "cavita", "completa video selfie", None),
    ("utter_richiesta_operatore", "cavita", "9:00-13:30", None),
    ("utter_richiesta_operatore", "cavita", "14:30-17:30", None),
    ("utter_richiesta_operatore", "cavita", "14:30-17:00", None),
    ("utter_richiesta_operatore", "cavita", "hai bisogno di assistenza", None),
    ("utter_richiesta_operatore", "alleanza", "Consulente", None),
]


def canonical(text: str) -> str:
    """Compare words, not typography: quotes, apostrophes, spacing and case are folded."""
    text = text.replace("’", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"\s*/\s*", "/", text)
    return " ".join(text.lower().split())


@pytest.fixture(scope="module")
def seeds():
    return {brand: canonical(path.read_text()) for brand, path in SEED_FILES.items()}


def render(domain, response: str, brand: str | None) -> str:
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    events = [SlotSet("brand", brand)] if brand else []
    tracker = DialogueStateTracker.from_events("test", events, slots=domain.slots)
    message = asyncio.run(nlg.generate(response, tracker, "rest"))
    assert message is not None, f"{response} has no variation for brand {brand}"
    return message["text"]


@pytest.mark.parametrize("response,brand,fact,seed_words", FACTS)
def test_answer_states_the_seed_fact(domain, seeds, response, brand, fact, seed_words):
    assert canonical(seed_words or fact) in seeds[brand], "fact is not in the seed"
    assert canonical(fact) in canonical(render(domain, response, brand))


@pytest.mark.parametrize("response", ["utter_faq_codice_verifica", "utter_faq_codice_errato",
                                      "utter_faq_codice_non_ricevuto", "utter_faq_registrazione"])
def test_otp_length_never_crosses_brands(domain, response):
    assert "6 cifre" not in render(domain, response, "cavita")
    assert "5 cifre" not in render(domain, response, "alleanza")


def test_each_brand_is_named_only_in_its_own_answers(domain):
    for response in domain.responses:
        assert "Alleanza" not in render(domain, response, "cavita"), response
        assert "CA Vita" not in render(domain, response, "alleanza"), response


# Intents answered by a custom action or a form (actions/, issue 3) rather than a response.
ACTION_INTENTS = {
    "le_mie_polizze": "action_mostra_polizze",
    "mio_recapito_dispositivo": "action_mostra_recapito_dispositivo",
    "richiedi_nuovo_codice": "action_reinvia_codice",
    "apri_richiesta_supporto": "support_form",
    "richiesta_operatore": "action_richiedi_operatore",  # the live handoff (actions/handoff.py)
    "invia_richiesta_agenzia": "action_avvia_richiesta_agenzia",
    "paga_rata": "action_avvia_pagamento",
    "riprendi_modulo": "action_riprendi_modulo",
    "staff_polizze_cliente": "action_staff_lookup",
    "staff_recapiti_cliente": "action_staff_lookup",
    "staff_richieste_cliente": "action_staff_lookup",
}


def test_every_intent_is_answered_by_a_rule_with_an_existing_response(domain, intents):
    rules = [
        rule
        for path in sorted((ROOT / "bot" / "data").rglob("*.yml"))
        for rule in yaml.safe_load(path.read_text()).get("rules") or []
    ]
    answered: dict = {}
    for r in rules:  # the first unconditional rule for an intent is its plain answer
        if "condition" not in r and "intent" in r["steps"][0]:
            answered.setdefault(r["steps"][0]["intent"], r["steps"][1]["action"])
    for intent in intents:
        expected = ACTION_INTENTS.get(intent)
        if expected:
            assert answered.get(intent) == expected, intent
            assert expected in domain.action_names_or_texts
        elif intent == "annulla":
            assert answered.get(intent) == "utter_annulla"
        else:
            assert answered.get(intent) == f"utter_{intent}"
            assert f"utter_{intent}" in domain.responses
    assert answered["nlu_fallback"] == "action_suggerisci_intenti"  # then utter_default


def test_faq_answers_have_a_cavita_variation_and_a_default(domain):
    for name, variations in domain.responses.items():
        if not name.startswith("utter_faq_"):
            continue
        conditions = [v.get("condition") for v in variations]
        assert None in conditions or [] in conditions, f"{name} lacks a default variation"
        assert any(
            c and c[0]["name"] == "brand" and c[0]["value"] == "cavita" for c in conditions
        ), f"{name} lacks a cavita variation"


def test_unknown_brand_gets_the_default_variation(domain):
    assert render(domain, "utter_faq_codice_verifica", None) == render(
        domain, "utter_faq_codice_verifica", "alleanza"
    )


def test_button_payloads_render_to_intents_rasa_parses(domain):
    """A payload with entities (``/intent{"slot":"value"}``) must be written with doubled
    braces in the domain: single braces read as a slot placeholder, and every rendering
    logged an interpolation error."""
    from rasa.core.nlg.interpolator import interpolate_text

    checked = 0
    for name, variations in domain.responses.items():
        for variation in variations:
            for button in variation.get("buttons") or []:
                payload = button["payload"]
                if not payload.startswith("/"):
                    continue
                rendered = interpolate_text(payload, {})
                intent, _, entities = rendered[1:].partition("{")
                assert intent in domain.intents, (name, payload)
                if entities:
                    assert "{{" in payload, (name, payload)  # single: read as a slot
                    assert isinstance(yaml.safe_load("{" + entities), dict), (name, rendered)
                    assert "{{" not in rendered, (name, rendered)
                checked += 1
    assert checked > 10
