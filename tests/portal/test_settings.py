import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import Env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("off", False)],
)
def test_bool_reads_common_spellings(raw, expected):
    assert Env({"FLAG": raw}).bool("FLAG", False) is expected


@pytest.mark.parametrize(
    ("method", "args", "environ"),
    [
        ("bool", ("X", False), {"X": "maybe"}),
        ("int", ("X", 1), {"X": "ten"}),
        ("int", ("X", 1), {"X": "0"}),
        ("choice", ("X", {"a", "b"}, "a"), {"X": "c"}),
        ("url", ("X", {"postgres"}, None), {"X": "mysql://h/db"}),
        ("url", ("X", {"postgres"}, None), {"X": "postgres:///db"}),
        ("str", ("X",), {}),
    ],
)
def test_bad_values_raise_improperly_configured_naming_the_variable(method, args, environ):
    env = Env(environ)
    kwargs = {"minimum": 1} if (method == "int" and environ.get("X") == "0") else {}
    with pytest.raises(ImproperlyConfigured, match="X"):
        getattr(env, method)(*args, **kwargs)


def test_list_and_defaults():
    env = Env({"HOSTS": "a.example, b.example,,"})
    assert env.list("HOSTS") == ["a.example", "b.example"]
    assert env.list("MISSING", ["x"]) == ["x"]
    assert env.int("MISSING", 5) == 5


def _run_manage(*args, extra_env):
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    environ.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "k3y-" + "q7Zp9xW2vR5tY8uI1oP4aS6dF0gH3jK" * 2,
    "DJANGO_ALLOWED_HOSTS": "portal.example.cn",
    "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_check_deploy_is_clean_under_production_settings():
    result = _run_manage("check", "--deploy", "--fail-level", "WARNING", extra_env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr.upper().replace("DEPRECATION", "")


def test_production_refuses_a_weak_secret_key():
    weak = dict(PRODUCTION_ENV, DJANGO_SECRET_KEY="short")
    result = _run_manage("check", extra_env=weak)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_requires_allowed_hosts():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_ALLOWED_HOSTS"}
    result = _run_manage("check", extra_env=env)
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_bad_database_url_is_reported_at_start():
    result = _run_manage("check", extra_env={"DATABASE_URL": "oracle://db/portal"})
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_collectstatic_builds_the_production_manifest(tmp_path):
    """The production storage hashes every file and rewrites the references between them; a
    reference to a file that is not shipped (a source map, say) would stop the deployment."""
    extra = dict(PRODUCTION_ENV, DJANGO_STATIC_ROOT=str(tmp_path))
    result = _run_manage("collectstatic", "--noinput", "-v", "0", extra_env=extra)
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())
    for name in ("portal/portal.js", "vendor/bootstrap/bootstrap.min.css", "admin/js/core.js"):
        assert name in manifest["paths"], name
