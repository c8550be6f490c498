"""Short follow-ups are read against the subject of the previous answer (bot/nlu/follow_ups.py,
bot/nlu/topics.yml)."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.domain_files import domain_dict
from bot.nlu.follow_ups import FollowUpResolver, Topics

TOPICS = Topics.load()


@pytest.mark.parametrize("recent,text,expected", [
    (["mio_recapito_dispositivo"], "come lo cambio?", "faq_recapito_dispositivo_modifica"),
    (["ringraziamento", "faq_recapito_dispositivo"], "e come faccio a modificarlo",
     "faq_recapito_dispositivo_modifica"),
    (["mio_recapito_dispositivo"], "non e piu il mio numero, come lo aggiorno?",
     "faq_recapito_dispositivo_modifica"),
    (["le_mie_polizze"], "e quelle scadute?", "le_mie_polizze"),
    (["richiedi_nuovo_codice"], "quante cifre deve avere?", "faq_codice_verifica"),
    (["faq_codice_verifica"], "e quanto dura?", "faq_codice_verifica"),
    (["richiedi_nuovo_codice"], "subito un altro, non e arrivato", "richiedi_nuovo_codice"),
    (["richiesta_operatore"], "e il sabato?", "richiesta_operatore"),
    (["richiesta_operatore"], "venerdi fino a che ora?", "richiesta_operatore"),
    (["faq_codice_non_ricevuto", "mio_recapito_dispositivo"], "come lo cambio da app",
     "faq_recapito_dispositivo_modifica"),                        # an older subject still open
    (["nlu_fallback", "esitazione", "le_mie_polizze"], "e quelle vecchie in archivio?",
     "le_mie_polizze"),
    (["faq_polizza_non_visibile"], "fammi vedere l archivio", "le_mie_polizze"),
    (["faq_video_selfie"], "anche tutte le volte che entro??", "faq_video_selfie"),
    (["mio_recapito_dispositivo"], "e se volessi usarne un altro?",
     "faq_recapito_dispositivo_modifica"),
])
def test_a_follow_up_takes_the_subject(recent, text, expected):
    found = TOPICS.follow_up(text, recent)
    assert found is not None and found[1] == expected


@pytest.mark.parametrize("recent,text", [
    ([], "come lo cambio?"),                                       # nothing was asked before
    (["faq_registrazione"], "come lo cambio?"),                    # no subject with that ask
    (["mio_recapito_dispositivo"], "e la mail di registrazione come si cambia"),  # other subject
    (["richiedi_nuovo_codice"], "no grazie non serve un altro"),   # a refusal
    (["faq_sinistro", "mio_recapito_dispositivo"], "come lo cambio?"),  # subject moved on
    (["mio_recapito_dispositivo"],
     "come lo cambio, visto che ormai uso un altro telefono da mesi e non ricordo nemmeno quando"),
])
def test_anything_else_keeps_the_classifier_reading(recent, text):
    assert TOPICS.follow_up(text, recent) is None


def _message(text, context, intent="faq_modifica_credenziali", confidence=0.62):
    message = Message(data={"text": text, "metadata": {"context": context}})
    message.set(INTENT, {"name": intent, "confidence": confidence})
    message.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": 0.62},
                                     {"name": "faq_recapito_dispositivo_modifica",
                                      "confidence": 0.2},
                                     {"name": "faq_accesso", "confidence": 0.18}])
    return message


def test_the_component_moves_the_follow_up_to_the_top_of_the_ranking():
    message = _message("come lo cambio?", {"recent_intents": ["mio_recapito_dispositivo"]})
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["name"] == "faq_recapito_dispositivo_modifica"
    ranking = message.get(INTENT_RANKING_KEY)
    assert [r["name"] for r in ranking] == [
        "faq_recapito_dispositivo_modifica", "faq_modifica_credenziali", "faq_accesso"]
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6
    assert ranking[0]["confidence"] - ranking[1]["confidence"] > 0.5


@pytest.mark.parametrize("text,context", [
    ("come lo cambio?", {"recent_intents": ["mio_recapito_dispositivo"], "form": "support_form"}),
    ("subito un altro", {"recent_intents": ["richiedi_nuovo_codice"], "form": "support_form"}),
    ("/faq_accesso", {"recent_intents": ["mio_recapito_dispositivo"]}),
    ("come lo cambio?", None),
])
def test_forms_buttons_and_missing_context_keep_the_classifier_reading(text, context):
    message = _message(text, context)
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["name"] == "faq_modifica_credenziali"


def test_every_topic_names_intents_of_the_domain():
    intents = set(domain_dict()["intents"])
    for topic in TOPICS.topics:
        assert topic.opened_by <= intents, topic.name
        assert {ask.intent for ask in topic.asks} <= intents, topic.name


def test_a_classifier_sure_of_another_reading_keeps_it():
    message = _message("e se e gia confermato e lo voglio modificare?",
                       {"recent_intents": ["faq_recapito_dispositivo_modifica"]},
                       intent="faq_recapito_confermato", confidence=0.96)
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["name"] == "faq_recapito_confermato"


@pytest.mark.parametrize("text,reading,confidence,kept", [
    ("e come lo cambio", "faq_modifica_credenziali", 0.81, False),     # a reference: 0.9 needed
    ("e se e gia confermato e lo voglio modificare?", "faq_recapito_confermato", 0.95, True),
    ("subito un altro", "fuori_ambito", 1.0, False),                    # a weak reading
    ("come aggiorno i dati del legale rappresentante", "faq_persona_giuridica", 0.98, True),
    ("come aggiorno i dati del legale rappresentante", "faq_persona_giuridica", 0.7, False),
])
def test_when_the_classifier_keeps_its_reading(text, reading, confidence, kept):
    assert TOPICS.keeps(text, reading, confidence) is kept


@pytest.mark.parametrize("recent,text,expected", [
    (["paga_rata"], "quindi come cambio metodo?", "faq_pagamento_sdd"),
    (["faq_dove_pagare"], "e se ho rate vecchie di un anno?", "faq_rate_scadute"),
    (["paga_rata"], "e a chi mi rivolgo?", "richiesta_operatore"),
    (["faq_registrazione"], "e se il mio numero di cell voi non ce l avete?",
     "faq_registrazione_recapito_non_accettato"),
    (["le_mie_polizze"], "e le vecchie?", "le_mie_polizze"),
])
def test_payment_and_registration_follow_ups(recent, text, expected):
    found = TOPICS.follow_up(text, recent)
    assert found is not None and found[1] == expected


def test_inside_the_step_up_the_code_is_the_subject():
    found = TOPICS.follow_up("subito un altro", [], form="step_up_form")
    assert found is not None and found[1] == "richiedi_nuovo_codice"
    recent = ["richiedi_nuovo_codice"]
    assert TOPICS.follow_up("subito un altro", recent, form="support_form") is None


@pytest.mark.parametrize("text,expected", [
    ("qual e il recapito dispositivo della ditta?", "mio_recapito_dispositivo"),
    ("che numero e il mio recapito dispositivo", "mio_recapito_dispositivo"),
    ("che cos e il recapito dispositivo", None),
    ("qual e la funzione del recapito dispositivo, a cosa serve?", None),
])
def test_asking_for_a_value_is_the_customers_own_data(text, expected):
    assert TOPICS.across_boundary(text, "faq_recapito_dispositivo") == expected
    message = _message(text, None, intent="faq_recapito_dispositivo", confidence=0.95)
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["name"] == (expected or "faq_recapito_dispositivo")


@pytest.mark.parametrize("recent,text,expected", [
    (["faq_codice_verifica"], "ok e se lo sbaglio?", "faq_codice_errato"),
    (["faq_codice_non_ricevuto"], "sono all estero, puo essere per quello?",
     "faq_codice_non_ricevuto"),
    (["faq_recapito_dispositivo_modifica"], "e dall app?", "faq_recapito_dispositivo_modifica"),
    (["le_mie_polizze"], "nn trovo pero i documenti di quella vecchia", "faq_polizza_non_visibile"),
    (["paga_rata"], "quindi come si cambia modalita di pagamento?", "faq_pagamento_sdd"),
    (["faq_dove_pagare"], "AL10000004", "paga_rata"),
])
def test_more_follow_ups(recent, text, expected):
    found = TOPICS.follow_up(text, recent)
    assert found is not None and found[1] == expected


def test_a_requests_faq_with_a_policy_number_is_the_request():
    text = "devo sospendere la copertura della polizza AL10000001"
    faq = "faq_sospensione_riattivazione"
    assert TOPICS.across_boundary(text, faq) == "invia_richiesta_agenzia"
    assert TOPICS.across_boundary("come si sospende la copertura?",
                                  "faq_sospensione_riattivazione") is None


def test_a_request_and_its_faq_close_together_are_one_reading_with_a_policy_number():
    message = Message(data={"text": "come si fa a chiedere il riscatto della polizza AL10000001?",
                            "metadata": {}})
    message.set(INTENT, {"name": "invia_richiesta_agenzia", "confidence": 0.45})
    message.set(INTENT_RANKING_KEY, [{"name": "invia_richiesta_agenzia", "confidence": 0.45},
                                     {"name": "faq_riscatto", "confidence": 0.43},
                                     {"name": "faq_sinistro", "confidence": 0.12}])
    FollowUpResolver(TOPICS).process([message])
    ranking = message.get(INTENT_RANKING_KEY)
    assert message.get(INTENT)["name"] == "invia_richiesta_agenzia"
    assert ranking[0]["confidence"] - ranking[1]["confidence"] > 0.5


@pytest.mark.parametrize("recent,text,expected", [
    # The code that did not arrive went to the number: changing «it» is the contact change.
    (["faq_codice_non_ricevuto"], "il mio numero e cambiato, come lo aggiorno",
     "faq_recapito_dispositivo_modifica"),
    # The registration message did not arrive; then the number is refused at registration.
    (["faq_registrazione_codice_non_arrivato"], "e se nn mi prende la mail che inserisco?",
     "faq_registrazione_recapito_non_accettato"),
])
def test_one_answer_opens_every_subject_it_touches(recent, text, expected):
    found = TOPICS.follow_up(text, recent)
    assert found is not None and found[1] == expected


def test_still_inside_the_code_subject_a_new_code_is_a_new_code():
    found = TOPICS.follow_up("me ne mandi un altro?", ["faq_codice_non_ricevuto"])
    assert found is not None and found[1] == "richiedi_nuovo_codice"


def _ranked(text, first, second, third="faq_accesso"):
    message = Message(data={"text": text, "metadata": {}})
    message.set(INTENT, {"name": first, "confidence": 0.41})
    message.set(INTENT_RANKING_KEY, [{"name": first, "confidence": 0.41},
                                     {"name": second, "confidence": 0.39},
                                     {"name": third, "confidence": 0.2}])
    return message


def test_two_sibling_readings_give_the_likelier_answer_instead_of_a_question():
    message = _ranked("da azienda come faccio a iscrivermi", "faq_registrazione",
                      "faq_registrazione_requisiti")
    FollowUpResolver(TOPICS).process([message])
    ranking = message.get(INTENT_RANKING_KEY)
    assert message.get(INTENT)["name"] == "faq_registrazione"
    assert message.get("follow_up") == {"sibling": "faq_registrazione_requisiti"}
    assert ranking[0]["confidence"] - ranking[1]["confidence"] > 0.5


def test_two_unrelated_close_readings_stay_a_question_for_the_fallback():
    message = _ranked("da azienda come faccio a iscrivermi", "faq_registrazione",
                      "faq_metodi_pagamento")
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["confidence"] == 0.41
    assert message.get("follow_up") is None


def test_siblings_name_intents_of_the_domain():
    intents = set(domain_dict()["intents"])
    for group in TOPICS.siblings:
        assert len(group) >= 2 and group <= intents


def test_two_unlikely_siblings_are_still_noise():
    message = Message(data={"text": "zzz registr", "metadata": {}})
    ranking = [{"name": "faq_registrazione", "confidence": 0.2},
               {"name": "faq_registrazione_requisiti", "confidence": 0.19},
               {"name": "faq_accesso", "confidence": 0.15}]
    message.set(INTENT, dict(ranking[0]))
    message.set(INTENT_RANKING_KEY, ranking)
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["confidence"] == 0.2


@pytest.mark.parametrize("recent,text,expected", [
    (["faq_video_selfie"], "devo farlo ad ogni accesso??", "faq_video_selfie"),
    (["richiedi_nuovo_codice"], "ancora uno", "richiedi_nuovo_codice"),
    (["le_mie_polizze"], "e la CV20000004? nn la vedo piu", "faq_polizza_non_visibile"),
])
def test_selfie_and_code_follow_ups(recent, text, expected):
    found = TOPICS.follow_up(text, recent)
    assert found is not None and found[1] == expected


@pytest.mark.parametrize("recent,text", [
    (["faq_registrazione_codice_non_arrivato"], "La ringrazio, arrivederci"),
    (["faq_codice_non_ricevuto"], "chi vince il campionato quest anno secondo te"),
])
def test_words_that_only_look_like_a_cue_are_not_follow_ups(recent, text):
    assert TOPICS.follow_up(text, recent) is None


@pytest.mark.parametrize("answer,text,expected", [
    ("utter_pagamento_sdd_not_payable", "e allora come faccio a cambiare?", "faq_pagamento_sdd"),
    ("utter_pagamento_sdd_not_payable", "e per cambiare modalità di pagamento?",
     "faq_pagamento_sdd"),
    ("utter_pagamento_overdue_more_than_6_months", "e xké nn posso??", "faq_rate_scadute"),
    ("utter_pagamento_older_installment_not_payable", "quindi a chi mi rivolgo",
     "faq_rate_scadute"),
    ("utter_pagamento_protection_not_yet_due", "e quando potrò pagarla?",
     "faq_pagamento_protezione"),
])
def test_a_follow_up_on_a_refusal_takes_the_refusal_as_its_subject(answer, text, expected):
    # a reading at 0.95 of something else: the refusal just said is the stronger context
    message = _message(text, {"recent_intents": ["paga_rata"], "last_answers": [answer]},
                       intent="faq_metodi_pagamento", confidence=0.95)
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["name"] == expected


@pytest.mark.parametrize("text,confidence", [
    ("e la mail come si cambia?", 0.6),      # another subject
    ("no grazie", 0.6),                      # a refusal, not a question
    ("come si vedono le polizze scadute", 0.6),
    ("perché?", 0.99),                       # a reading this sure stands
])
def test_other_messages_after_a_refusal_keep_their_reading(text, confidence):
    message = _message(text, {"recent_intents": ["paga_rata"],
                              "last_answers": ["utter_pagamento_sdd_not_payable"]},
                       intent="faq_modifica_credenziali", confidence=confidence)
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["name"] == "faq_modifica_credenziali"


def test_topics_opened_by_answers_name_responses_of_the_domain():
    responses = set(domain_dict()["responses"])
    answered = [t for t in TOPICS.topics if t.answered_by]
    assert answered
    for topic in answered:
        assert topic.answered_by <= responses, topic.name


@pytest.mark.parametrize("recent,text,expected", [
    (["faq_credenziali_dimenticate"], "cosa mi chiedono?", "faq_credenziali_dimenticate"),
    (["faq_modifica_indirizzo"], "quanto ci vuole?", "faq_modifica_indirizzo"),
    (["faq_documentazione_elettronica"], "e come lo disattivo dall'app?",
     "faq_documentazione_elettronica"),
    (["faq_sinistro"], "e dall'app?", "faq_sinistro"),
    (["ringraziamento", "faq_pagamento_sdd"], "e allora come faccio?", "faq_pagamento_sdd"),
])
def test_an_unplaced_dependent_follow_up_gets_the_previous_answer_again(recent, text, expected):
    message = _message(text, {"recent_intents": recent}, intent="fuori_ambito",
                       confidence=0.31)
    # nothing of the previous question's family in the ranking (else bot/nlu/context_ranking)
    message.set(INTENT_RANKING_KEY, [{"name": "fuori_ambito", "confidence": 0.31},
                                     {"name": "chi_sei", "confidence": 0.3}])
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["name"] == expected
    assert message.get("follow_up") == {"same_subject": expected}


@pytest.mark.parametrize("recent,text,confidence", [
    (["faq_sinistro"], "e dall'app?", 0.75),                 # the classifier placed it
    (["faq_recapito_dispositivo"], "e il codice?", 0.3),     # another subject
    (["faq_sinistro"], "servono documenti?", 0.3),           # names another subject
    (["richiedi_nuovo_codice"], "e allora come faccio?", 0.3),  # only after an FAQ answer
    (["faq_sinistro"], "grazie mille", 0.3),                 # not a follow-up
    (["faq_codice_verifica"], "ok ciao", 0.3),               # a goodbye
    (["faq_credenziali_dimenticate"], "chi ha vinto la partita ieri sera", 0.3),
    ([], "e dall'app?", 0.3),                                # nothing before
])
def test_other_messages_are_not_the_same_subject(recent, text, confidence):
    """(«ok ciao» read surely as a goodbye is kept anyway: only readings below 0.6 move)"""
    message = _message(text, {"recent_intents": recent}, intent="faq_accesso",
                       confidence=confidence)
    FollowUpResolver(TOPICS).process([message])
    assert message.get("follow_up") is None or "same_subject" not in message.get("follow_up")


@pytest.mark.parametrize("text,expected", [
    ("e i suoi recapiti?", "staff_recapiti_cliente"),
    ("ha richieste aperte?", "staff_richieste_cliente"),
    ("e che polizze ha?", "staff_polizze_cliente"),
    ("il suo cellulare?", "staff_recapiti_cliente"),
    ("e i recapiti della polizza?", "staff_recapiti_cliente"),
])
def test_staff_follow_ups_point_at_the_customer_just_looked_up(text, expected):
    # even against a sure reading of the message alone (a customer's FAQ)
    message = _message(text, {"recent_intents": ["staff_polizze_cliente"]},
                       intent="faq_ruoli_recapiti", confidence=0.97)
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["name"] == expected


def test_without_a_lookup_before_a_staff_follow_up_is_not_invented():
    message = _message("e i suoi recapiti?", {"recent_intents": ["faq_recapito_dispositivo"]},
                       intent="faq_ruoli_recapiti", confidence=0.97)
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["name"] == "faq_ruoli_recapiti"


@pytest.mark.parametrize("text", ["AL10000001", "la AL10000001", "per la al 1000 0001",
                                  "e la AL10000001"])
def test_a_bare_policy_number_after_a_payment_answer_is_the_payment(text):
    found = TOPICS.follow_up(text, ["faq_dove_pagare"])
    assert found is not None and found[1] == "paga_rata"


def test_a_staff_follow_up_asks_the_view_it_names_first():
    message = _message("e invece le polizze del cellulare 3391112222?",
                       {"recent_intents": ["staff_recapiti_cliente"]},
                       intent="staff_recapiti_cliente", confidence=0.55)
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["name"] == "staff_polizze_cliente"


@pytest.mark.parametrize("text,reading,expected", [
    ("e allora come faccio?", "congedo", "faq_pagamento_sdd"),     # misread, however sure
    ("e quindi?", "ringraziamento", "faq_pagamento_sdd"),
    ("e niente grazie", "ringraziamento", "ringraziamento"),        # asks nothing
    ("e cosa sai fare?", "cosa_sai_fare", "cosa_sai_fare"),        # a question of its own
])
def test_a_sure_small_talk_reading_of_a_dependent_question_is_the_same_subject(
        text, reading, expected):
    message = _message(text, {"recent_intents": ["faq_pagamento_sdd"]}, intent=reading,
                       confidence=0.97)
    message.set(INTENT_RANKING_KEY, [{"name": reading, "confidence": 0.97},
                                     {"name": "chi_sei", "confidence": 0.03}])
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["name"] == expected


@pytest.mark.parametrize("text,expected", [
    ("ciao devo pagare la rata", "paga_rata"),
    ("buongiorno devo pagare una rata", "paga_rata"),
    ("vorrei pagare le rate", "paga_rata"),
    ("devo pagare la rata, come si fa?", None),
    ("dove posso pagare la rata?", None),
])
def test_wanting_to_pay_now_is_the_payment(text, expected):
    assert TOPICS.across_boundary(text, "faq_dove_pagare") == expected


@pytest.mark.parametrize("text,source,expected", [
    ("poi vorrei riattivarla, sempre sulla stessa polizza", "faq_sospensione_riattivazione",
     "invia_richiesta_agenzia"),
    ("e un versamento sulla stessa polizza?", "faq_versamento_aggiuntivo",
     "invia_richiesta_agenzia"),
    ("con cosa lo pago", "faq_pagamenti_cosa", "faq_metodi_pagamento"),
    ("cosa posso pagare online?", "faq_pagamenti_cosa", None),
    ("richiesta alla mia agenzia per la AL10000001", "apri_richiesta_supporto",
     "invia_richiesta_agenzia"),
    ("vorrei aprire una richiesta di assistenza, la mia agenzia non risponde",
     "apri_richiesta_supporto", None),
])
def test_more_boundaries(text, source, expected):
    assert TOPICS.across_boundary(text, source) == expected


def test_an_agency_request_read_just_under_the_threshold_is_not_asked_back():
    message = Message(data={"text": "ciao devo mandare una richiesta alla mia agenzia per la "
                                    "AL10000001", "metadata": {}})
    message.set(INTENT, {"name": "invia_richiesta_agenzia", "confidence": 0.39})
    message.set(INTENT_RANKING_KEY, [{"name": "invia_richiesta_agenzia", "confidence": 0.39},
                                     {"name": "apri_richiesta_supporto", "confidence": 0.26},
                                     {"name": "paga_rata", "confidence": 0.09}])
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["name"] == "invia_richiesta_agenzia"
    assert message.get(INTENT)["confidence"] > 0.4


def test_after_an_extra_payment_how_to_pay_it_is_the_means_of_payment():
    found = TOPICS.follow_up("e come lo pago?", ["faq_versamento_aggiuntivo"])
    assert found is not None and found[1] == "faq_metodi_pagamento"



def test_a_code_that_does_not_arrive_is_never_answered_with_what_the_code_is():
    # the two code answers are not interchangeable: only one says where to look (spam)
    message = Message(data={"text": "non mi arriva il codice via sms", "metadata": {}})
    message.set(INTENT, {"name": "faq_codice_verifica", "confidence": 0.42})
    message.set(INTENT_RANKING_KEY, [{"name": "faq_codice_verifica", "confidence": 0.42},
                                     {"name": "faq_codice_non_ricevuto", "confidence": 0.40}])
    FollowUpResolver(TOPICS).process([message])
    assert message.get(INTENT)["confidence"] < 0.5  # left for the fallback to ask
