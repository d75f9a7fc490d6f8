"""History pages show old versions but never save one back, for any admin, any user."""

import pytest
from django.contrib import admin
from django.urls import reverse

from portal.admin_base import HistoryAdmin
from tests.conftest import _with_totp
from tests.factories import IPAssetFactory, UserFactory


def test_every_history_enabled_admin_refuses_reverts():
    from simple_history.admin import SimpleHistoryAdmin

    history_admins = [
        model_admin
        for model_admin in admin.site._registry.values()
        if isinstance(model_admin, SimpleHistoryAdmin)
    ]
    assert history_admins, "no history-enabled admin found"
    offenders = [
        type(model_admin).__name__
        for model_admin in history_admins
        if not isinstance(model_admin, HistoryAdmin)
    ]
    assert offenders == [], f"these admins can revert history: {offenders}"


@pytest.mark.django_db
def test_a_superuser_cannot_post_an_old_version(client):
    superuser = _with_totp(UserFactory(email="root@example.test", is_staff=True, is_superuser=True))
    asset = IPAssetFactory(title="原标题")
    asset.title = "新标题"
    asset.save()
    first = asset.history.order_by("history_id").first()
    url = reverse("admin:portal_ipasset_simple_history", args=[asset.pk, first.history_id])
    client.force_login(superuser)
    assert client.get(url).status_code == 200
    response = client.post(url, {"title": "原标题", "kind": asset.kind, "firm": asset.firm_id})
    assert response.status_code == 403
    asset.refresh_from_db()
    assert asset.title == "新标题"
