"""Which drivers a call may reach, as the bound parameters of the statements that read or
change them: the row-level half of "Who may do what" (README), the role half being
shared.registry's `roles`.

A driver reaches one driver, themselves; a dispatcher (or an admin whose token lists teams)
the drivers whose current team is one of theirs; an admin, everyone. The statements filter
with `:scope_driver` and `:scope_teams` (NULL: no restriction), so a row outside the scope is
never read, never counted and never written, and no statement is added for it.

Decided for every function alike: a driver outside a dispatcher's teams is a 403 `forbidden`,
and so is a driver that does not exist, so a dispatcher cannot tell the two apart (the team
is what they may not see); a driver naming another driver is a 403 too, decided from the
request alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.auth.access import OPEN, current_identity
from shared.auth.identity import Identity, Role
from shared.errors import FleetError, Forbidden, NotFound


@dataclass(frozen=True, slots=True)
class Scope:
    role: Role
    # A driver: only this driver.
    driver_id: str | None = None
    # Only drivers whose team is one of these (a driver without a team is in none); None: all.
    teams: tuple[str, ...] | None = None
    # Who writes, as the audit columns record it; None with AUTH_MODE=off (no one is known).
    principal: str | None = None

    @classmethod
    def of(cls, identity: Identity) -> Scope:
        if identity.role == "driver":
            return cls("driver", driver_id=identity.driver_id, principal=identity.principal)
        teams = None if identity.teams is None else tuple(sorted(identity.teams))
        return cls(identity.role, teams=teams, principal=identity.principal)

    @property
    def params(self) -> dict[str, Any]:
        """The statements' scope parameters."""
        return {
            "scope_driver": self.driver_id,
            "scope_teams": None if self.teams is None else list(self.teams),
        }

    def own_driver(self, driver_id: str, *, rule: str, field: str | None) -> None:
        """A driver may name only themselves (`rule`: "report their own progress")."""
        if self.driver_id is not None and driver_id != self.driver_id:
            raise Forbidden(f"a driver may only {rule}", field=field)

    def team(self, team: str | None, *, field: str) -> None:
        """A team the request names must be one of a team-bound caller's."""
        if self.teams is not None and team not in self.teams:
            raise self.outside_teams(field=field)

    def outside_teams(self, *, field: str | None = None) -> Forbidden:
        article = "an" if self.role == "admin" else "a"
        teams = ", ".join(self.teams or ())
        return Forbidden(
            f"{article} {self.role} may only reach drivers of their teams ({teams})", field=field
        )

    def unseen(self, driver_id: str, *, field: str) -> FleetError:
        """What a driver the statements did not find is: 404 `driver_not_found`, or for a
        team-bound scope the 403 of a driver outside its teams (the two look alike there)."""
        if self.teams is not None:
            return self.outside_teams(field=field)
        return NotFound(f"driver {driver_id!r} not found", code="driver_not_found", field=field)

    def not_driver(self, *, rule: str) -> None:
        """Refuses a driver what only other roles may ask (`rule`: "read the fleet summary")."""
        if self.role == "driver":
            raise Forbidden(f"a driver may not {rule}")


# AUTH_MODE=off and the operations' default: every driver, and no one recorded.
EVERYONE = Scope("admin")


def current_scope() -> Scope:
    """The scope of the request being served."""
    identity = current_identity()
    return EVERYONE if identity is OPEN else Scope.of(identity)
