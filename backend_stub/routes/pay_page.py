"""The fake payment page behind a payment link (what the customer's browser opens).

No API key: the unguessable token in the link is the credential. ``POST`` simulates a
successful payment so that demos can close the loop (installments become paid).
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from ..deps import ClockDep, SessionDep
from ..errors import ApiError
from ..presenters import euro
from ..services.payments import complete_payment, find_by_token

router = APIRouter(tags=["payment page"], include_in_schema=False)
Token = Annotated[str, Path(min_length=10, max_length=64)]


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f"<!doctype html><html lang='it'><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


@router.get("/pay/{token}", response_class=HTMLResponse)
def show(token: Token, session: SessionDep, clock: ClockDep) -> HTMLResponse:
    try:
        request = find_by_token(session, token)
    except ApiError as exc:
        return _page("Link di pagamento non valido", "", exc.status)
    items = "".join(
        f"<li>Rata del {i.installment.due_date:%d/%m/%Y}: {euro(i.installment.amount_cents)} EUR</li>"
        for i in request.items
    )
    expired = clock.now() > request.expires_at
    action = (
        "<form method='post'><button type='submit'>Paga (simulato)</button></form>"
        if request.status == "pending" and not expired
        else f"<p>Stato: {escape(request.status)}</p>"
    )
    return _page(
        "Pagamento simulato",
        f"<p>Polizza {escape(request.policy.number)}, metodo {escape(request.method)}.</p><ul>{items}</ul>"
        f"<p>Totale: {euro(request.amount_cents)} EUR</p>{action}",
    )


@router.post("/pay/{token}", response_class=HTMLResponse)
def pay(token: Token, session: SessionDep, clock: ClockDep) -> HTMLResponse:
    try:
        request = find_by_token(session, token)
        complete_payment(session, request, clock.now())
    except ApiError as exc:
        return _page("Pagamento non riuscito", f"<p>{escape(exc.code)}</p>", exc.status)
    session.commit()
    return _page("Pagamento completato", f"<p>Pagamento {escape(request.number or '')} registrato.</p>")
