"""The one place that reads configuration from the environment.

Every setting that may come from outside goes through ``Env`` so that a bad value stops the
process at start-up with ``ImproperlyConfigured`` naming the variable, instead of surfacing later
as a confusing runtime error.
"""

import os
from collections.abc import Mapping
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_UNSET = object()


class Env:
    def __init__(self, environ: Mapping[str, str] | None = None):
        self.environ = os.environ if environ is None else environ

    def _raw(self, name, default):
        value = self.environ.get(name)
        if value is None:
            if default is _UNSET:
                raise ImproperlyConfigured(f"Environment variable {name} is required.")
            return None
        return value.strip()

    def str(self, name, default=_UNSET):
        value = self._raw(name, default)
        return default if value is None else value

    def bool(self, name, default=_UNSET):
        value = self._raw(name, default)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false, 1/0).")

    def int(self, name, default=_UNSET, *, minimum=None, maximum=None):
        value = self._raw(name, default)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}.")
        if maximum is not None and number > maximum:
            raise ImproperlyConfigured(f"{name}={number} is above the maximum {maximum}.")
        return number

    def list(self, name, default=_UNSET):
        value = self._raw(name, default)
        if value is None:
            return list(default) if default is not None else []
        return [item.strip() for item in value.split(",") if item.strip()]

    def choice(self, name, choices, default=_UNSET):
        value = self.str(name, default)
        if value not in choices:
            allowed = ", ".join(sorted(choices))
            raise ImproperlyConfigured(f"{name}={value!r} is not one of: {allowed}.")
        return value

    def url(self, name, schemes, default=_UNSET):
        value = self.str(name, default)
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in schemes:
            allowed = ", ".join(sorted(schemes))
            raise ImproperlyConfigured(
                f"{name} has scheme {parsed.scheme or '(none)'!r}; expected one of: {allowed}."
            )
        if parsed.scheme not in {"sqlite", "filesystem", "memory"} and not parsed.hostname:
            raise ImproperlyConfigured(f"{name} has no host name.")
        return value
