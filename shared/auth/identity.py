"""Who a verified token says the caller is: an identity and one role.

End users carry their role in custom claims (`fleet_role`, `driver_id`, `teams`) set by an
admin through Identity Platform; service accounts carry none, so their role comes from
AUTH_SERVICE_ACCOUNTS by their verified email. A token whose claims do not make a complete
role is refused here (401): the service never guesses a role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from shared.auth.settings import ServiceRole
from shared.errors import Unauthenticated
from shared.fleet.fields import DriverId, TeamName

Role = Literal["driver", "dispatcher", "admin", "scheduler"]
UserRole = Literal["driver", "dispatcher", "admin"]

# The same limits as the ids and team names in requests, so a claim can name only what a
# request could.
_USER_ROLE: TypeAdapter[UserRole] = TypeAdapter(UserRole)
_DRIVER_ID: TypeAdapter[str] = TypeAdapter(DriverId)
_TEAMS: TypeAdapter[list[str]] = TypeAdapter(list[TeamName])


@dataclass(frozen=True, slots=True)
class Identity:
    issuer: str
    subject: str  # the token's `sub`: unique within its issuer
    role: Role
    # A driver's own id; None for every other role.
    driver_id: str | None = None
    # The teams whose drivers this caller may see or change. None: no team restriction, which
    # only an admin can have; a driver's team is the one stored for their driver_id.
    teams: frozenset[str] | None = frozenset()
    # A service account's verified email (it names the caller in audit records); None for users.
    email: str | None = None

    @property
    def principal(self) -> str:
        """Who made a write, as the audit records it: a service account by its email, an end
        user by issuer and subject (a `sub` alone is unique only within its issuer)."""
        return self.email or f"{self.issuer}#{self.subject}"


def user_identity(claims: Mapping[str, Any]) -> Identity:
    """The identity of an end user's verified token, from its custom claims."""
    try:
        role = _USER_ROLE.validate_python(claims.get("fleet_role"), strict=True)
    except ValidationError:
        raise Unauthenticated(
            "the token carries no known fleet_role (driver, dispatcher, admin)"
        ) from None
    issuer, subject = claims["iss"], claims["sub"]
    if role == "driver":
        try:
            driver_id = _DRIVER_ID.validate_python(claims.get("driver_id"), strict=True)
        except ValidationError:
            raise Unauthenticated(
                "a driver's token must carry driver_id, a string of 1 to 64 characters"
            ) from None
        return Identity(issuer, subject, "driver", driver_id=driver_id)
    teams = claims.get("teams")
    if teams is None and role == "admin":
        return Identity(issuer, subject, "admin", teams=None)
    try:
        names = _TEAMS.validate_python(teams, strict=True)
    except ValidationError:
        raise Unauthenticated(
            f"a {role}'s token must carry teams, a list of team names (1 to 64 characters)"
        ) from None
    # An admin whose token lists teams is held to them, like a dispatcher.
    return Identity(issuer, subject, role, teams=frozenset(names))


def service_identity(claims: Mapping[str, Any], roles: Mapping[str, ServiceRole]) -> Identity:
    """The identity of a verified Google-signed token, from the role its email is given in
    AUTH_SERVICE_ACCOUNTS (keys in lower case)."""
    email = claims.get("email")
    # email_verified: Google vouches for the address; without it the email is only a claim.
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        raise Unauthenticated("a Google-signed token must carry a verified email")
    role = roles.get(email.lower())
    if role is None:
        raise Unauthenticated("this service account has no role here (AUTH_SERVICE_ACCOUNTS)")
    teams = None if role == "admin" else frozenset[str]()
    return Identity(claims["iss"], claims["sub"], role, teams=teams, email=email.lower())
