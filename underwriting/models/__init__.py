"""The underwriting app's models: the catalogue (products, wording, rating), applications
(questionnaires, rules, referrals, quotes) and policies (acknowledgements, payments, documents)."""

from underwriting.models.applications import *  # noqa: F403
from underwriting.models.catalogue import *  # noqa: F403
from underwriting.models.policies import *  # noqa: F403
