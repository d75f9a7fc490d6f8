"""The public catalogue's rendered product list, kept in the cache between changes.

The list is the same for every visitor of a language and filter, and the catalogue changes a few
times a year, so the rendered results (count, product cards, pagination) and the insurer filter's
choices are kept under a catalogue version. Any save or delete of a product, insurer or product's
insurer share replaces the version — at once and again when the transaction commits, so a page
rendered from rows not yet committed cannot outlive the change — and the entries also expire on
their own. A cache that cannot be reached only costs the rendering, never the page.
"""

import hashlib

from portal import quiet_cache

VERSION_KEY = "catalogue:version"
ENTRY_SECONDS = 300
# Only plain visits are kept: the filters and the page number, each with a short value.
CACHEABLE_PARAMETERS = frozenset(
    {"ip_type", "liability_class", "function_class", "insurer", "page"}
)
MAX_VALUE_LENGTH = 40


def _version() -> str | None:
    return quiet_cache.version(VERSION_KEY, purpose="catalogue")


def catalogue_changed(**_signal_arguments) -> None:
    """Starts a new catalogue version now and once more after the commit."""
    quiet_cache.forget_now_and_on_commit(VERSION_KEY, purpose="catalogue")


def results_key(query, language: str) -> str | None:
    """The cache key of the product list for this query string and language, or None when the
    query is not a plain visit or the cache is unreachable."""
    if not set(query) <= CACHEABLE_PARAMETERS:
        return None
    if any(len(values) > 1 or len(values[0]) > MAX_VALUE_LENGTH for _name, values in query.lists()):
        return None
    version = _version()
    if version is None:
        return None
    digest = hashlib.sha256(query.urlencode().encode()).hexdigest()[:32]
    return f"catalogue:results:{version}:{language}:{digest}"


def insurers_key() -> str | None:
    version = _version()
    return None if version is None else f"catalogue:insurers:{version}"


def product_names_key(ordering, language: str) -> str | None:
    """The key of the products' names in this ordering and language (the admin's filter)."""
    version = _version()
    if version is None:
        return None
    digest = hashlib.sha256(repr(tuple(ordering or ())).encode()).hexdigest()[:16]
    return f"catalogue:product-names:{version}:{language}:{digest}"


def get(key: str | None):
    return quiet_cache.get(key, purpose="catalogue")


def put(key: str | None, value) -> None:
    quiet_cache.put(key, value, ENTRY_SECONDS, purpose="catalogue")
