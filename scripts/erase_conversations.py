"""Delete stored conversations: by age (retention) or one customer's, on request.

Works on the tracker store Rasa uses in this environment (``RASA_TRACKER_URL`` for
PostgreSQL, else the SQLite file, as bot/endpoints_config.py renders it) and needs the same
``CHAT_TICKET_SECRET`` / ``CUSTOMER_JWT_SECRET`` as the Rasa server, whose keyed hashes find
a customer's conversations (bot/tracker_store.py):

    .venv/bin/python scripts/erase_conversations.py --older-than-days 30
    .venv/bin/python scripts/erase_conversations.py --customer 7 [--brand cavita]
    .venv/bin/python scripts/erase_conversations.py --phone +393331234567
    .venv/bin/python scripts/erase_conversations.py --redact-existing   # once, after upgrading

Rasa also applies the retention at start and every few hours; the first form is for cron.
Only counts are printed: conversation ids may hold a phone number.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.endpoints_config import EndpointsConfigError, tracker_store  # noqa: E402
from identity import ID_RE, is_e164, to_e164  # noqa: E402
from identity.brands import BRANDS, normalise_brand  # noqa: E402


def normalise_phone(raw: str) -> str:
    """``+39 333 123 4567``, ``0039...`` or ``333...`` -> ``+393331234567`` (E.164).

    Any number of a plausible length (identity.to_e164, not strict): a conversation may
    belong to a number that libphonenumber's data does not know yet.
    """
    found = to_e164(raw, strict=False)
    if found is None or not is_e164(found):
        raise ValueError(f"not a phone number: {raw!r}")
    return found


def open_store(env: dict[str, str] | None = None) -> Any:
    """The tracker store of this environment, without the start-up sweep."""
    from rasa.shared.core.domain import Domain

    from bot.tracker_store import RedactingSQLTrackerStore

    config = dict(tracker_store(dict(os.environ) if env is None else env))
    config.pop("type")
    if config.get("dialect") == "sqlite" and not Path(config["db"]).is_absolute():
        config["db"] = str(ROOT / config["db"])  # as Rasa sees it, started in the project
    host = config.pop("url", None)
    domain = Domain.load(str(ROOT / "domain"))  # its session expiry (domain/core.yml)
    return RedactingSQLTrackerStore(domain=domain, host=host, sweep_on_start=False, **config)


def derived_conversations(customer: str | None, brands: list[str], phone: str | None) -> set[str]:
    """Conversation ids computed from the identity itself (also for data written before the
    erasure index existed): the widget's per-customer id, WhatsApp's per-number id."""
    found: set[str] = set()
    if customer:
        from bot.channels.socketio_jwt import customer_conversation

        found |= {customer_conversation(brand, customer) for brand in brands}
    if phone:
        from bot.channels.whatsapp import conversation_id

        found.add(conversation_id(phone))
    return found


def erase_identity(store: Any, customer: str | None, brands: list[str],
                   phone: str | None) -> int:
    from bot.tracker_store import customer_subject, phone_subject

    subjects = [customer_subject(brand, customer) for brand in brands] if customer else []
    if phone:
        subjects.append(phone_subject(phone))
    conversations = store.conversations_of(subjects) | derived_conversations(
        customer, brands, phone)
    return store.erase(sorted(conversations))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--older-than-days", type=float, metavar="N",
                        help="delete conversations idle for N days and older sessions")
    parser.add_argument("--customer", metavar="ID", help="backend customer id to erase")
    parser.add_argument("--brand", help="the customer's insurer (default: every brand)")
    parser.add_argument("--phone", metavar="+39...", help="WhatsApp number to erase")
    parser.add_argument("--redact-existing", action="store_true",
                        help="mask what was written in clear before the redacting store")
    args = parser.parse_args(argv)
    if not (args.older_than_days is not None or args.customer or args.phone
            or args.redact_existing):
        parser.error("say what to erase: --older-than-days, --customer, --phone "
                     "or --redact-existing")
    if args.older_than_days is not None and not args.older_than_days > 0:
        parser.error("--older-than-days must be a positive number")
    if args.customer and not ID_RE.match(args.customer):
        parser.error("--customer: not a customer id")
    if args.brand and normalise_brand(args.brand) is None:
        parser.error(f"--brand: one of {', '.join(BRANDS)}")
    if args.phone:
        try:
            args.phone = normalise_phone(args.phone)
        except ValueError as exc:
            parser.error(f"--phone: {exc}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        store = open_store()
    except (EndpointsConfigError, ValueError) as exc:
        print(f"erase_conversations: {exc}", file=sys.stderr)
        return 2
    if args.redact_existing:
        print(f"{store.redact_stored()} stored events redacted")
    if args.older_than_days is not None:
        conversations, events = store.delete_older_than(args.older_than_days)
        store.sweep_live_values()
        print(f"{conversations} conversations idle for more than {args.older_than_days:g} days "
              f"deleted; {events} events of older sessions deleted")
    if args.customer or args.phone:
        brands = [normalise_brand(args.brand)] if args.brand else list(BRANDS)
        erased = erase_identity(store, args.customer, brands, args.phone)
        print(f"{erased} conversations erased")
    return 0


if __name__ == "__main__":
    sys.exit(main())
