"""Every write the underwriting app knows by name. Views, admin, API and tasks call these."""

from underwriting.services.applications import *  # noqa: F403
from underwriting.services.catalogue import *  # noqa: F403
from underwriting.services.policies import *  # noqa: F403
