import itertools
from datetime import date

import factory
from stdnum.cn import uscc

from portal import ipnumbers
from portal.choices import AssetKind, AuthorityLevel, FirmSize, Industry, MembershipRole
from portal.models import Authority, Firm, IPAsset, Membership, OfficerMembership, User

_serial = itertools.count(1)


def make_uscc(n: int) -> str:
    body = f"91320214MA{n:07d}"[:17]
    return body + uscc.calc_check_digit(body)


def make_patent_number(n: int, type_digit: str = "1", year: int = 2019) -> str:
    digits = f"{year}{type_digit}{n:07d}"
    return f"ZL{digits}.{ipnumbers.patent_check_character(digits)}"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Sequence(lambda n: f"User {n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-for-tests-1")

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        if create:
            from allauth.account.models import EmailAddress

            EmailAddress.objects.get_or_create(
                user=obj, email=obj.email, defaults={"verified": True, "primary": True}
            )
            obj.save()


class FirmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Firm

    name_zh = factory.Sequence(lambda n: f"测试科技有限公司{n}")
    name_en = factory.Sequence(lambda n: f"Test Technology Co. {n}")
    uscc = factory.LazyFunction(lambda: make_uscc(next(_serial)))
    region_code = "320214"
    industry = Industry.ELECTRONIC_INFORMATION
    size = FirmSize.SMALL


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    firm = factory.SubFactory(FirmFactory)
    role = MembershipRole.OWNER


class IPAssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IPAsset

    firm = factory.SubFactory(FirmFactory)
    kind = AssetKind.PATENT
    number = factory.LazyFunction(lambda: make_patent_number(next(_serial)))
    patent_type = "invention"
    title = factory.Sequence(lambda n: f"一种测试装置{n}")
    filing_date = date(2019, 3, 12)


class AuthorityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Authority

    name_zh = factory.Sequence(lambda n: f"测试市知识产权局{n}")
    name_en = factory.Sequence(lambda n: f"Test City IP Office {n}")
    region_code = "320200"
    level = AuthorityLevel.CITY


class OfficerMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OfficerMembership

    user = factory.SubFactory(UserFactory)
    authority = factory.SubFactory(AuthorityFactory)
