"""A partner's day through the Python client generated from the served /openapi.json.

usage: scenario.py <base url> <admin token> <partner token>

Only the generated package (`ally_client`, on PYTHONPATH) talks to the server: its typed
functions, models and enums. Exits non-zero on the first outcome that differs from the
contract (api.md) and prints one summary line otherwise.
"""

import sys
from http import HTTPStatus

from ally_client import AuthenticatedClient
from ally_client.api.add_credits import add_credits
from ally_client.api.clients import create_client, list_clients
from ally_client.api.onboarding import me, my_transactions, onboard_reseller
from ally_client.api.provision import bulk_onboard, provision
from ally_client.models import (
    BulkReceipt,
    BulkRequest,
    ClientPage,
    CreditReceipt,
    CreditRequest,
    EntryKind,
    LedgerEntryPage,
    NewClient,
    NewReseller,
    Problem,
    ProvisionReceipt,
    Profile,
    ProvisionRequest,
    Reseller,
    Status,
    Tier,
)
from ally_client.models import Client as ClientModel


def expect(answer, status, model):
    """The parsed body of `answer`, which must have `status` and parse as `model`."""
    assert answer.status_code == status, f"{status} expected, got {answer.status_code}: {answer.content!r}"
    assert isinstance(answer.parsed, model), f"{model.__name__} expected, got {answer.parsed!r}"
    return answer.parsed


def main(base, admin_token, partner_token):
    admin = AuthenticatedClient(base_url=base, token=admin_token, raise_on_unexpected_status=True)
    partner = AuthenticatedClient(base_url=base, token=partner_token, raise_on_unexpected_status=True)

    # The partner onboards itself: default tier, active, an empty wallet.
    reseller = expect(
        onboard_reseller.sync_detailed(client=partner, body=NewReseller(company="Client Scenario Ltd")),
        HTTPStatus.CREATED,
        Reseller,
    )
    assert (reseller.tier, reseller.status, reseller.balance) == (Tier.STANDARD, Status.ACTIVE, 0), reseller

    # The admin tops the wallet up.
    opening = 10_000
    credit = expect(
        add_credits.sync_detailed(
            reseller.refid,
            client=admin,
            body=CreditRequest(amount=opening, reason="opening"),
            idempotency_key="client-scenario-opening",
        ),
        HTTPStatus.OK,
        CreditReceipt,
    )
    assert credit.balance == opening and credit.transaction.kind is EntryKind.CREDIT, credit

    # The partner onboards a client and provisions a service for it.
    client = expect(
        create_client.sync_detailed(client=partner, body=NewClient(name="First client", email="first@client.example")),
        HTTPStatus.CREATED,
        ClientModel,
    )
    assert client.owner_id == reseller.user_id, client
    order = ProvisionRequest(cost=1_000, client_id=client.id, description="one licence")
    key = "client-scenario-provision"
    bought = expect(
        provision.sync_detailed(client=partner, body=order, idempotency_key=key), HTTPStatus.OK, ProvisionReceipt
    )
    assert bought.service.base_cost == 1_000 and 0 < bought.cost <= 1_000, bought
    assert bought.balance == opening - bought.cost and bought.transaction.kind is EntryKind.DEBIT, bought
    assert bought.service.client_id == client.id, bought

    # The same key again: the first answer, nothing charged twice.
    replay = expect(
        provision.sync_detailed(client=partner, body=order, idempotency_key=key), HTTPStatus.OK, ProvisionReceipt
    )
    assert replay.transaction.id == bought.transaction.id and replay.balance == bought.balance, replay
    profile = expect(me.sync_detailed(client=partner), HTTPStatus.OK, Profile)
    assert profile.balance == bought.balance and profile.available == bought.balance and profile.held == 0, profile

    # More than the wallet holds: refused with a problem, nothing moves.
    refusal = expect(
        provision.sync_detailed(
            client=partner, body=ProvisionRequest(cost=1_000_000), idempotency_key="client-scenario-too-much"
        ),
        HTTPStatus.PAYMENT_REQUIRED,
        Problem,
    )
    assert (refusal.status, refusal.code) == (402, "insufficient_credits"), refusal

    # The ledger, newest first, its kinds decoded as the enum.
    ledger = expect(my_transactions.sync_detailed(client=partner), HTTPStatus.OK, LedgerEntryPage)
    assert [e.kind for e in ledger.items] == [EntryKind.DEBIT, EntryKind.CREDIT], ledger
    assert [e.id for e in ledger.items] == [bought.transaction.id, credit.transaction.id], ledger
    assert [e.balance_after for e in ledger.items] == [bought.balance, opening], ledger

    # Three clients at once, each provisioned, one debit for all.
    bulk = expect(
        bulk_onboard.sync_detailed(
            client=partner,
            body=BulkRequest(clients=[NewClient(name=f"Bulk client {i}") for i in range(3)], cost=500),
            idempotency_key="client-scenario-bulk",
        ),
        HTTPStatus.OK,
        BulkReceipt,
    )
    assert len(bulk.clients) == len(bulk.services) == 3, bulk
    assert bulk.total == 3 * bulk.cost and bulk.balance == bought.balance - bulk.total, bulk
    assert bulk.transaction.kind is EntryKind.DEBIT, bulk
    clients = expect(list_clients.sync_detailed(client=partner), HTTPStatus.OK, ClientPage)
    assert {c.id for c in clients.items} == {client.id} | {c.id for c in bulk.clients}, clients

    print(
        f"client scenario: onboarded {reseller.refid}, credited {opening}, provisioned for {bought.cost} "
        f"(replayed, same transaction), refused 402 {refusal.code}, {len(ledger.items)} ledger entries, "
        f"bulk of {len(bulk.clients)} for {bulk.total}; balance {bulk.balance}"
    )


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
