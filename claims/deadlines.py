"""Statutory claim deadlines. Pure: no Django, ``datetime.date`` only.

Insurance Law art. 23-26 (domain RULES.md §6, REFERENCE.md §3):

* art. 23: decide on cover within 30 days (complex cases) of the claim documents being complete;
* art. 24: send the written rejection with reasons within 3 days of deciding to reject;
* art. 23: pay within 10 days of agreeing the amount;
* art. 25: pay the part that can already be determined within 60 days of receiving the claim and
  its documents, if the whole amount is not agreed by then;
* art. 26: the insured's claim is time-barred 2 years after they learned of the incident.

Counting convention, stated once here and used by every function below (PRC Civil Code
art. 201-203):

* The day of the event is not counted; a period of N days starts the next day, so its last day,
  the due date, is ``event + N days``. Decided on 2026-01-20, the rejection notice is due
  2026-01-23.
* A period of years ends on the same month and day; a Feb 29 start with no Feb 29 in the final
  year ends on Feb 28 (the last day of that month).
* The due date is the last day on which the act is still on time: done on the due date is "done",
  done the day after is "done_late".
* If the last day is a rest day the period ends on the next working day. That shift is
  **optional**: pass ``holidays`` (any container of dates) and/or ``weekends=True``. Both are off
  by default because **the portal passes no holiday calendar yet**; until it does, due dates are
  the unshifted ones, which are never later than the legal ones, so a reminder is never late.
  ``weekends=True`` treats every Saturday and Sunday as a rest day and so ignores make-up working
  weekends (调休); a calendar that models those should list its rest days in ``holidays`` and
  leave ``weekends`` off. Only the last day moves: rest days inside the period still count.

Dates are ``datetime.date``. A ``datetime`` is refused rather than truncated, because which day an
aware instant falls on depends on a time zone this module does not know; callers convert first
(``django.utils.timezone.localdate``).
"""

from collections.abc import Container
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

DECISION_DAYS = 30
REJECTION_NOTICE_DAYS = 3
PAYMENT_DAYS = 10
ADVANCE_PAYMENT_DAYS = 60
LIMITATION_YEARS = 2
DEFAULT_SOON_DAYS = 3

ACCEPT = "accept"
REJECT = "reject"
DECISIONS = (ACCEPT, REJECT)

# A guard, not a rule: no real calendar has a year of rest days in a row, so a container that
# claims one (e.g. a catch-all object) is a bug we report instead of looping forever.
MAX_CONSECUTIVE_REST_DAYS = 366

NO_HOLIDAYS: frozenset[date] = frozenset()


class DeadlineError(ValueError):
    pass


class Kind(StrEnum):
    DECISION = "decision"
    REJECTION_NOTICE = "rejection_notice"
    PAYMENT = "payment"
    ADVANCE_PAYMENT = "advance_payment"
    LIMITATION = "limitation"


class Status(StrEnum):
    DONE = "done"
    DONE_LATE = "done_late"
    OVERDUE = "overdue"
    DUE_TODAY = "due_today"
    DUE_SOON = "due_soon"
    OPEN = "open"


# Last resort for ordering, after due date and start, so the list is the same on every call.
_KIND_ORDER = {kind: position for position, kind in enumerate(Kind)}


# --- counting ------------------------------------------------------------------------------


def next_working_day(
    day: date, *, holidays: Container[date] = NO_HOLIDAYS, weekends: bool = False
) -> date:
    """``day`` itself if it is a working day, otherwise the first working day after it."""
    day = _date(day, "day")
    for _ in range(MAX_CONSECUTIVE_REST_DAYS + 1):
        if not _is_rest_day(day, holidays, weekends):
            return day
        day += timedelta(days=1)
    raise DeadlineError(
        f"More than {MAX_CONSECUTIVE_REST_DAYS} rest days in a row; check the holiday calendar."
    )


def decision_due(
    documents_complete_on: date,
    *,
    holidays: Container[date] = NO_HOLIDAYS,
    weekends: bool = False,
) -> date:
    """Last day to decide whether the claim is covered (art. 23, complex cases)."""
    return _days_after(
        documents_complete_on, DECISION_DAYS, "documents_complete_on", holidays, weekends
    )


def rejection_notice_due(
    rejected_on: date, *, holidays: Container[date] = NO_HOLIDAYS, weekends: bool = False
) -> date:
    """Last day to send the written rejection with reasons (art. 24)."""
    return _days_after(rejected_on, REJECTION_NOTICE_DAYS, "rejected_on", holidays, weekends)


def payment_due(
    amount_agreed_on: date, *, holidays: Container[date] = NO_HOLIDAYS, weekends: bool = False
) -> date:
    """Last day to pay the agreed amount (art. 23)."""
    return _days_after(amount_agreed_on, PAYMENT_DAYS, "amount_agreed_on", holidays, weekends)


def advance_payment_due(
    claim_and_documents_received_on: date,
    *,
    holidays: Container[date] = NO_HOLIDAYS,
    weekends: bool = False,
) -> date:
    """Last day to pay the part already determined if the amount is still open (art. 25)."""
    return _days_after(
        claim_and_documents_received_on,
        ADVANCE_PAYMENT_DAYS,
        "claim_and_documents_received_on",
        holidays,
        weekends,
    )


def limitation_ends(
    known_on: date, *, holidays: Container[date] = NO_HOLIDAYS, weekends: bool = False
) -> date:
    """Last day of the insured's 2-year limitation period (art. 26).

    ``known_on`` is the day the insured knew or should have known of the incident, which is not
    the day they notified the insurer.
    """
    known_on = _date(known_on, "known_on")
    year = known_on.year + LIMITATION_YEARS
    try:
        last_day = known_on.replace(year=year)
    except ValueError:
        # Only Feb 29 has no counterpart; the period then ends on the last day of February.
        last_day = date(year, 2, 28)
    return next_working_day(last_day, holidays=holidays, weekends=weekends)


def _days_after(
    start: object, days: int, name: str, holidays: Container[date], weekends: bool
) -> date:
    start = _date(start, name)
    return next_working_day(start + timedelta(days=days), holidays=holidays, weekends=weekends)


def _is_rest_day(day: date, holidays: Container[date], weekends: bool) -> bool:
    return day in holidays or (weekends and day.weekday() >= 5)


def _date(value: object, name: str) -> date:
    # A datetime is a date subclass but would bring a time of day into day counting.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise DeadlineError(f"{name} must be a datetime.date.")
    return value


def _optional_date(value: object, name: str) -> date | None:
    return None if value is None else _date(value, name)


# --- deadlines -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """One statutory deadline: the event that started it, its due date and when it was met."""

    kind: Kind
    start: date
    due: date
    done_on: date | None = None

    def __post_init__(self) -> None:
        try:
            kind = Kind(self.kind)
        except ValueError:
            raise DeadlineError(f"Unknown deadline kind {self.kind!r}.") from None
        object.__setattr__(self, "kind", kind)
        start, due = _date(self.start, "start"), _date(self.due, "due")
        _optional_date(self.done_on, "done_on")
        if due < start:
            raise DeadlineError("A deadline cannot be due before the event that starts it.")

    def status(self, today: date, *, soon_days: int = DEFAULT_SOON_DAYS) -> Status:
        """Where the deadline stands on ``today``; once done, ``today`` no longer matters."""
        today = _date(today, "today")
        if isinstance(soon_days, bool) or not isinstance(soon_days, int) or soon_days < 0:
            raise DeadlineError("soon_days must be a non-negative int.")
        if self.done_on is not None:
            return Status.DONE if self.done_on <= self.due else Status.DONE_LATE
        days_left = self.days_left(today)
        if days_left < 0:
            return Status.OVERDUE
        if days_left == 0:
            return Status.DUE_TODAY
        if days_left <= soon_days:
            return Status.DUE_SOON
        return Status.OPEN

    def days_left(self, today: date) -> int:
        """Calendar days from ``today`` to the due date: 0 on the day, negative once past it."""
        return (self.due - _date(today, "today")).days


@dataclass(frozen=True)
class ClaimFacts:
    """The dates a claim has reached so far; ``None`` means it has not happened yet."""

    notified_on: date | None = None
    documents_complete_on: date | None = None
    decided_on: date | None = None
    decision: str | None = None
    rejection_notice_sent_on: date | None = None
    amount_agreed_on: date | None = None
    paid_on: date | None = None
    advance_paid_on: date | None = None

    def __post_init__(self) -> None:
        for name in (
            "notified_on",
            "documents_complete_on",
            "decided_on",
            "rejection_notice_sent_on",
            "amount_agreed_on",
            "paid_on",
            "advance_paid_on",
        ):
            _optional_date(getattr(self, name), name)
        if self.decision is not None and self.decision not in DECISIONS:
            raise DeadlineError(f"decision must be one of {DECISIONS} or None.")
        # Whether a rejection notice is owed, and from when, needs both halves.
        if (self.decision is None) != (self.decided_on is None):
            raise DeadlineError("decision and decided_on must be given together.")


def deadlines_for(
    facts: ClaimFacts, *, holidays: Container[date] = NO_HOLIDAYS, weekends: bool = False
) -> tuple[Deadline, ...]:
    """The deadlines whose starting event has happened, ordered by due date.

    The limitation period (art. 26) is not among them: it runs from the day the insured learned of
    the incident, which ``ClaimFacts`` does not hold (``notified_on`` is later, so using it would
    show too late an end), and it is the insured's period, not a task for the insurer.
    """
    if not isinstance(facts, ClaimFacts):
        raise DeadlineError("facts must be a ClaimFacts.")
    shift = {"holidays": holidays, "weekends": weekends}
    deadlines: list[Deadline] = []

    if facts.documents_complete_on is not None:
        start = facts.documents_complete_on
        deadlines.append(
            Deadline(Kind.DECISION, start, decision_due(start, **shift), facts.decided_on)
        )
        advance = _advance_deadline(facts, start, advance_payment_due(start, **shift))
        if advance is not None:
            deadlines.append(advance)

    if facts.decision == REJECT:
        start = facts.decided_on
        deadlines.append(
            Deadline(
                Kind.REJECTION_NOTICE,
                start,
                rejection_notice_due(start, **shift),
                facts.rejection_notice_sent_on,
            )
        )

    if facts.amount_agreed_on is not None:
        start = facts.amount_agreed_on
        deadlines.append(Deadline(Kind.PAYMENT, start, payment_due(start, **shift), facts.paid_on))

    # On equal due dates the obligation that arose first comes first, as the claim moved.
    return tuple(sorted(deadlines, key=lambda d: (d.due, d.start, _KIND_ORDER[d.kind])))


def _advance_deadline(facts: ClaimFacts, start: date, due: date) -> Deadline | None:
    # A rejected claim owes nothing, so there is no part of it to pay in advance.
    if facts.decision == REJECT:
        return None
    agreed, advanced = facts.amount_agreed_on, facts.advance_paid_on
    if advanced is None and agreed is not None and agreed <= due:
        # Agreed in time: art. 25 never applied and the 10-day payment deadline takes over.
        return None
    # Agreeing the whole amount also ends the duty to advance part of it; if that happened after
    # the due date with no advance paid, the deadline stays on the list as done late.
    done_on = min((d for d in (advanced, agreed) if d is not None), default=None)
    return Deadline(Kind.ADVANCE_PAYMENT, start, due, done_on)
