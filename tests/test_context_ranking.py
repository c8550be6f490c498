"""An unsure dependent follow-up is read within the previous question's family of intents
(bot/nlu/context_ranking.py, wired in bot/nlu/follow_ups.py)."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.domain_files import domain_dict
from bot.nlu.context_ranking import ContextRanking, intent_families
from bot.nlu.follow_ups import TOPICS_FILE, FollowUpResolver, Topics

RESOLVER = FollowUpResolver(Topics.load(), ContextRanking.load(TOPICS_FILE))


def _message(text, recent, ranking, form=None):
    message = Message(data={"text": text, "metadata": {"context": {
        "recent_intents": recent, "form": form}}})
    ranking = [{"name": n, "confidence": c} for n, c in ranking]
    message.set(INTENT, dict(ranking[0]))
    message.set(INTENT_RANKING_KEY, ranking)
    return message


def _read(text, recent, ranking, form=None):
    message = _message(text, recent, ranking, form)
    RESOLVER.process([message])
    return message.get(INTENT)["name"], message.get("follow_up")


def test_families_are_the_domain_files_and_cover_every_intent_but_small_talk():
    families = intent_families()
    intents = {next(iter(i)) if isinstance(i, dict) else i for i in domain_dict()["intents"]}
    small_talk = {"saluto", "congedo", "ringraziamento", "conferma", "negazione",
                  "esitazione", "chi_sei", "cosa_sai_fare", "fuori_ambito"}
    assert set(families) == intents - small_talk
    assert families["faq_registrazione"] == families["faq_registrazione_requisiti"]
    assert families["faq_registrazione"] != families["faq_dove_pagare"]


def test_an_unsure_follow_up_takes_the_reading_of_the_previous_questions_family():
    intent, why = _read("e cosa mi chiedono?", ["faq_registrazione"],
                        [("faq_operazioni_dispositive", 0.41), ("faq_polizza_non_visibile", 0.2),
                         ("faq_registrazione_requisiti", 0.12), ("faq_accesso", 0.1)])
    assert intent == "faq_registrazione_requisiti"
    assert why == {"in_context": "faq_operazioni_dispositive"}


def test_small_talk_in_between_keeps_the_family_open():
    intent, _ = _read("e se non ci riesco?", ["ringraziamento", "faq_modifica_indirizzo"],
                      [("fuori_ambito", 0.5), ("faq_recapito_dispositivo_modifica", 0.2),
                       ("faq_sinistro", 0.1)])
    assert intent == "faq_recapito_dispositivo_modifica"


@pytest.mark.parametrize("text,recent,ranking,form", [
    # sure enough of its own reading
    ("e cosa mi chiedono?", ["faq_registrazione"],
     [("faq_operazioni_dispositive", 0.85), ("faq_registrazione_requisiti", 0.1)], None),
    # not a dependent message
    ("vorrei informazioni sulla firma elettronica", ["faq_registrazione"],
     [("faq_documentazione_elettronica", 0.5), ("faq_registrazione_requisiti", 0.3)], None),
    # the family's reading is below the floor
    ("e cosa mi chiedono?", ["faq_registrazione"],
     [("faq_operazioni_dispositive", 0.6), ("faq_documentazione_elettronica", 0.38),
      ("faq_registrazione_requisiti", 0.02)],
     None),
    # names another subject and the classifier is sure enough of it
    ("e la password come la cambio?", ["faq_registrazione"],
     [("faq_modifica_credenziali", 0.55), ("faq_registrazione_requisiti", 0.3)], None),
    # inside a form the form's own questions lead
    ("e cosa mi chiedono?", ["faq_registrazione"],
     [("faq_operazioni_dispositive", 0.41), ("faq_registrazione_requisiti", 0.3)], "support_form"),
    # nothing asked before
    ("e cosa mi chiedono?", [],
     [("faq_operazioni_dispositive", 0.41), ("faq_registrazione_requisiti", 0.3)], None),
    # a refusal is no follow-up
    ("no lascia stare", ["faq_registrazione"],
     [("negazione", 0.5), ("faq_registrazione_requisiti", 0.3)], None),
])
def test_other_messages_keep_the_classifier_reading(text, recent, ranking, form):
    intent, _ = _read(text, recent, ranking, form)
    assert intent == ranking[0][0]


def test_a_word_the_previous_subject_names_is_not_another_subject():
    # «numero» names the assistance's phone number too, but after the customer's own
    # dispositive contact it is that contact's number
    intent, _ = _read("quindi qual e il numero?", ["mio_recapito_dispositivo"],
                      [("richiesta_operatore", 0.52), ("mio_recapito_dispositivo", 0.38)])
    assert intent == "mio_recapito_dispositivo"
    # a word only another subject names still keeps a sure enough reading
    intent, _ = _read("e l'orario dell'assistenza?", ["mio_recapito_dispositivo"],
                      [("richiesta_operatore", 0.52), ("mio_recapito_dispositivo", 0.38)])
    assert intent == "richiesta_operatore"


def test_a_weak_reading_gives_way_even_when_sure():
    intent, _ = _read("e quindi?", ["faq_documentazione_elettronica"],
                      [("ringraziamento", 0.95), ("faq_documentazione_elettronica", 0.05)])
    assert intent == "faq_documentazione_elettronica"


@pytest.mark.parametrize("text,expected", [
    ("e perche?", "faq_recapito_dispositivo"),
    ("xke scusa??", "faq_recapito_dispositivo"),
    ("e allora come faccio?", "faq_recapito_dispositivo_modifica"),
    ("come lo aggiungo", "faq_recapito_dispositivo_modifica"),
])
def test_after_a_code_that_cannot_be_sent_the_follow_up_is_about_the_contact(text, expected):
    message = _message(text, ["richiedi_nuovo_codice"], [("fuori_ambito", 0.5), ("saluto", 0.3)])
    message.data["metadata"]["context"]["last_answers"] = ["utter_no_dispositive_mobile"]
    RESOLVER.process([message])
    assert message.get(INTENT)["name"] == expected


def test_the_previous_question_beats_a_family_neighbour_whose_subject_is_not_named():
    # codici_recapiti holds both the change of address and the code: «quanto tempo» alone
    # asks about the change just explained
    ranking = [("faq_codice_verifica", 0.45), ("faq_modifica_indirizzo", 0.09),
               ("le_mie_polizze", 0.05)]
    intent, _ = _read("quanto tempo ci vuole?", ["faq_modifica_indirizzo"], ranking)
    assert intent == "faq_modifica_indirizzo"
    intent, _ = _read("e quanto dura il codice?", ["faq_modifica_indirizzo"], ranking)
    assert intent == "faq_codice_verifica"
