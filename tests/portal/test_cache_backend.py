"""portal.cache_backends.RedisCache: Django's Redis cache with one client a pool, not one a call.
Run where the settings point at Redis (REDIS_URL, as CI's PostgreSQL + Redis pass does)."""

import pytest
from django.conf import settings
from django.core.cache import cache

pytestmark = pytest.mark.skipif(
    settings.CACHES["default"]["BACKEND"] != "portal.cache_backends.RedisCache",
    reason="the cache is not Redis here (no REDIS_URL)",
)


def test_one_client_serves_every_call():
    client = cache._cache.get_client("a")
    assert cache._cache.get_client("b") is client
    assert cache._cache.get_client("c", write=True) is client


def test_it_is_still_djangos_cache():
    cache.delete_many(["kept-client:a", "kept-client:n"])
    assert cache.get("kept-client:a") is None
    cache.set("kept-client:a", {"value": [1, "二"]}, 30)
    assert cache.get("kept-client:a") == {"value": [1, "二"]}
    assert cache.add("kept-client:a", "other", 30) is False
    assert cache.add("kept-client:n", 1, 30) is True
    assert cache.incr("kept-client:n") == 2
    assert cache.get_many(["kept-client:a", "kept-client:n"]) == {
        "kept-client:a": {"value": [1, "二"]},
        "kept-client:n": 2,
    }
    cache.delete_many(["kept-client:a", "kept-client:n"])
    assert cache.get("kept-client:n") is None
