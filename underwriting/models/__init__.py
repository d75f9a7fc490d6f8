"""The underwriting app's models: the catalogue (products, wording, rating) and applications
(questionnaires, rules, referrals, quotes)."""

from underwriting.models.applications import *  # noqa: F403
from underwriting.models.catalogue import *  # noqa: F403
