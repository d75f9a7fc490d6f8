"""Published wording never changes: service, model guard and admin all refuse."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import translation

from portal.errors import DomainError
from tests.factories import UserFactory
from underwriting import services
from underwriting.clause_text import sha256_text
from underwriting.models import (
    ClauseVersion,
    CoefficientOption,
    CoefficientTable,
    Insurer,
    Product,
    ProductInsurer,
    PublishedClauseError,
    RatingSection,
)

T = {"zh": "文本", "en": "Text"}


def wording(**overrides):
    fields = {
        "label": "2025版",
        "effective_date": date(2025, 1, 1),
        "insured_object": {"zh": "被保险专利", "en": "The insured patent"},
        "covered_causes": [{"title": T, "text": T}],
        "exclusions": [
            {"title": {"zh": f"除外{i}", "en": f"Exclusion {i}"}, "text": T, "explanation": T}
            for i in range(1, 7)
        ],
        "obligations": [T],
        "claim_documents": [{"code": "policy", "zh": "保单", "en": "Policy", "required": True}],
        "deductible_rules": T,
        "short_rate_table": [10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 100],
        "minimum_premium": Decimal("500.00"),
    }
    fields.update(overrides)
    return fields


@pytest.fixture
def manager(db):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name="product_manager"))
    return user


@pytest.fixture
def product(db):
    product = Product.objects.create(
        code="PAT-TEST",
        name_zh="测试专利险",
        name_en="Test patent cover",
        liability_class="expense",
        function_class="protection",
        ip_types=["patent"],
        party="rights_holder",
    )
    ProductInsurer.objects.create(
        product=product, insurer=Insurer.objects.create(code="INS", name_zh="保险公司")
    )
    return product


@pytest.fixture
def published(product, manager):
    version = services.clause_version_create_draft(actor=manager, product=product, **wording())
    RatingSection.objects.create(
        clause_version=version, code="legal", name_zh="法律费用", base_rate=Decimal("0.05")
    )
    table = CoefficientTable.objects.create(clause_version=version, code="industry", name_zh="行业")
    CoefficientOption.objects.create(
        table=table, code="other", label_zh="其他", factor=Decimal("1"), is_default=True
    )
    return services.clause_version_publish(version=version, actor=manager)


def test_publish_stores_hash_of_the_rendered_text(published, manager):
    assert published.status == "published"
    assert published.published_by == manager
    assert published.text_sha256 == sha256_text(services.clause_version_text(published))
    assert len(published.text_sha256) == 64
    assert "Exclusion 6" in services.clause_version_text(published)
    assert "除外6" in services.clause_version_text(published)


def test_service_refuses_to_edit_published_version(published, manager):
    with pytest.raises(DomainError):
        services.clause_version_update(version=published, actor=manager, label="改过的")
    assert ClauseVersion.objects.get(pk=published.pk).label == "2025版"


def test_model_guard_refuses_direct_save_and_delete(published):
    published.label = "偷偷改"
    with pytest.raises(PublishedClauseError):
        published.save()
    with pytest.raises(PublishedClauseError):
        ClauseVersion.objects.get(pk=published.pk).delete()


def test_rating_rows_of_published_version_are_frozen(published, manager):
    section = published.rating_sections.get()
    section.base_rate = Decimal("0.01")
    with pytest.raises(PublishedClauseError):
        section.save()
    option = CoefficientOption.objects.get(table__clause_version=published)
    option.factor = Decimal("0.5")
    with pytest.raises(PublishedClauseError):
        option.save()
    with pytest.raises(DomainError):
        services.rating_row_save(
            row=RatingSection(clause_version=published, code="new", name_zh="新", base_rate=1),
            actor=manager,
        )
    assert RatingSection.objects.get(pk=section.pk).base_rate == Decimal("0.05")


def test_new_draft_copies_wording_and_rating_and_can_be_compared(published, manager):
    draft = services.clause_version_create_draft(actor=manager, product=published.product)
    assert draft.number == 2 and draft.status == "draft" and draft.based_on == published
    assert draft.exclusions == published.exclusions
    assert draft.rating_sections.get().base_rate == Decimal("0.05")
    assert draft.coefficient_tables.get().options.get().is_default
    assert services.clause_versions_compare(published, draft) == []

    exclusions = [*draft.exclusions, {"title": T, "text": T, "explanation": T}]
    services.clause_version_update(version=draft, actor=manager, exclusions=exclusions)
    section = draft.rating_sections.get()
    section.base_rate = Decimal("0.06")
    services.rating_row_save(row=section, actor=manager)
    changes = services.clause_versions_compare(published, ClauseVersion.objects.get(pk=draft.pk))
    assert ("exclusions", 7, "added") in [(c.field, c.index, c.kind) for c in changes]
    assert "rating" in [c.field for c in changes]
    # only one draft at a time
    with pytest.raises(DomainError):
        services.clause_version_create_draft(actor=manager, product=published.product)


def test_incomplete_draft_cannot_be_published(product, manager):
    draft = services.clause_version_create_draft(
        actor=manager,
        product=product,
        **wording(exclusions=[{"title": T, "text": T, "explanation": {"zh": "", "en": ""}}]),
    )
    with translation.override("en"), pytest.raises(DomainError) as error:
        services.clause_version_publish(version=draft, actor=manager)
    assert "Exclusion 1" in error.value.message
    assert "rating section" in error.value.message


def test_product_publish_needs_published_wording_and_valid_shares(product, manager):
    with pytest.raises(DomainError):
        services.product_publish(product=product, actor=manager)
    draft = services.clause_version_create_draft(actor=manager, product=product, **wording())
    RatingSection.objects.create(
        clause_version=draft, code="s", name_zh="节", base_rate=Decimal("0.01")
    )
    services.clause_version_publish(version=draft, actor=manager)
    second = ProductInsurer.objects.create(
        product=product,
        insurer=Insurer.objects.create(code="INS2", name_zh="另一家"),
        share=Decimal("40"),
    )
    with pytest.raises(DomainError):  # one share given, the other missing
        services.product_publish(product=product, actor=manager)
    ProductInsurer.objects.filter(product=product).exclude(pk=second.pk).update(share=Decimal("60"))
    assert services.product_publish(product=product, actor=manager).status == "published"
    assert services.product_withdraw(product=product, actor=manager).status == "withdrawn"
    with pytest.raises(DomainError):
        services.product_withdraw(product=product, actor=manager)


# --- Admin --------------------------------------------------------------------------------


@pytest.fixture
def admin_client_for(client):
    def login(user):
        from allauth.mfa.totp.internal.auth import TOTP

        TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DP")
        client.force_login(user)
        return client

    return login


def test_admin_cannot_change_published_version(published, manager, admin_client_for):
    client = admin_client_for(manager)
    url = reverse("admin:underwriting_clauseversion_change", args=[published.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="label"' not in page.content  # shown read-only
    response = client.post(url, {"label": "管理员改", "effective_date": "2025-01-01"})
    assert response.status_code == 403
    assert ClauseVersion.objects.get(pk=published.pk).label == "2025版"
    delete = client.post(
        reverse("admin:underwriting_clauseversion_delete", args=[published.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert ClauseVersion.objects.filter(pk=published.pk).exists()


def test_admin_publish_needs_confirmation(product, manager, admin_client_for):
    draft = services.clause_version_create_draft(actor=manager, product=product, **wording())
    RatingSection.objects.create(
        clause_version=draft, code="s", name_zh="节", base_rate=Decimal("0.01")
    )
    client = admin_client_for(manager)
    url = reverse("admin:underwriting_clauseversion_changelist")
    first = client.post(url, {"action": "publish_versions", "_selected_action": [draft.pk]})
    assert first.status_code == 200
    assert ClauseVersion.objects.get(pk=draft.pk).status == "draft"
    client.post(
        url, {"action": "publish_versions", "_selected_action": [draft.pk], "confirmed": "yes"}
    )
    assert ClauseVersion.objects.get(pk=draft.pk).status == "published"


def test_admin_compare_page_lists_changes(published, manager, admin_client_for):
    draft = services.clause_version_create_draft(actor=manager, product=published.product)
    services.clause_version_update(version=draft, actor=manager, label="2026版")
    client = admin_client_for(manager)
    page = client.get(
        reverse("admin:underwriting_clauseversion_compare", args=[published.pk, draft.pk])
    )
    assert page.status_code == 200


def test_underwriter_and_claims_handler_read_but_cannot_change(
    published, underwriter, claims_handler, client
):
    for user in (underwriter, claims_handler):
        client.force_login(user)
        product = published.product
        change_url = reverse("admin:underwriting_product_change", args=[product.pk])
        assert client.get(change_url).status_code == 200
        response = client.post(change_url, {"code": "HACK", "name_zh": "改"})
        assert response.status_code == 403
        assert client.get(reverse("admin:underwriting_product_add")).status_code == 403
    assert Product.objects.get(pk=published.product.pk).code == "PAT-TEST"
