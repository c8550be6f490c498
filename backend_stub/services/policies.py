"""Which policies a customer sees: active ones and archived ones (CA Vita: ended < 24 months)."""

from __future__ import annotations

from datetime import date

from ..clock import add_months
from ..config import BrandRules
from ..errors import ApiError
from ..models import Customer, Policy


def is_archived(policy: Policy) -> bool:
    """Archived = not active any more (expired or surrendered)."""
    return policy.status != "active"


def is_visible(policy: Policy, rules: BrandRules, today: date) -> bool:
    """Active policies always; archived ones within the brand's window, if it has one."""
    if not is_archived(policy) or rules.archived_visible_months is None:
        return True
    assert policy.end_date is not None  # guaranteed by ck_policy_end
    return policy.end_date >= add_months(today, -rules.archived_visible_months)


def list_policies(customer: Customer, status: str, rules: BrandRules, today: date) -> tuple[list[Policy], int]:
    """Visible policies filtered by ``status`` (active|archived|all) and the hidden count."""
    visible, hidden = [], 0
    for policy in customer.policies:
        if status == "active" and is_archived(policy):
            continue
        if status == "archived" and not is_archived(policy):
            continue
        if is_visible(policy, rules, today):
            visible.append(policy)
        else:
            hidden += 1
    return visible, hidden


def owned_policy(customer: Customer, number: str, rules: BrandRules, today: date) -> Policy:
    """The customer's visible policy with that number.

    Another customer's policy, an unknown number and a policy hidden by the archive window
    all get the same answer, so the API cannot be used to probe other people's numbers.
    """
    for policy in customer.policies:
        if policy.number == number and is_visible(policy, rules, today):
            return policy
    raise ApiError(404, "policy_not_owned", "no visible policy with this number belongs to this customer")
