"""What the signed tokens and the status list say, read from the credentials (no commits, no Flask)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from webapp.driving_licence import services as licences
from webapp.driving_licence.models import ElectronicLicence
from webapp.registry.rules import mask_name
from webapp.signing import rules
from webapp.travel_id import services as travel
from webapp.travel_id.models import TravelCertificate


def facts_of(credential: TravelCertificate | ElectronicLicence, times: rules.TokenTimes) -> rules.CredentialFacts:
    """What a token of this credential carries (rules.CredentialFacts): a travel ID's validity end and ticket
    category over the token's life; a licence's class, last valid day and record status now."""
    name = mask_name(credential.citizen.name)
    if isinstance(credential, TravelCertificate):
        ticket, changes = rules.ticket_over(credential.citizen.birth_date, times)
        return rules.CredentialFacts(rules.TRAVEL_ID, credential.id, name, credential.expires_at, ticket=ticket,
                                     ticket_changes_at=changes)
    record = credential.record
    return rules.CredentialFacts(rules.DRIVING_LICENCE, credential.id, name, record.valid_until,
                                 licence_class=record.licence_class, licence_status=record.status)


def status_states(session: Session, now: datetime) -> dict[int, int]:
    """{status index: state} of every credential an offline verifier must refuse now; the rest are valid."""
    states = {rules.status_index(rules.TRAVEL_ID, cert_id): rules.STATE_INVALID
              for cert_id in travel.withdrawn_ids(session, now)}
    unusable = licences.unusable_ids(session)
    states.update((rules.status_index(rules.DRIVING_LICENCE, i), rules.STATE_INVALID) for i in unusable.invalid)
    states.update((rules.status_index(rules.DRIVING_LICENCE, i), rules.STATE_SUSPENDED) for i in unusable.blocked)
    return states
