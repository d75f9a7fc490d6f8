from django.db import models
from django.utils.translation import gettext_lazy as _


class Industry(models.TextChoices):
    # The high-tech domains that insurers' rating tables distinguish, plus services and other.
    ELECTRONIC_INFORMATION = "electronic_information", _("Electronic information")
    BIOTECH_MEDICINE = "biotech_medicine", _("Biotechnology and new medicine")
    AEROSPACE = "aerospace", _("Aerospace")
    NEW_MATERIALS = "new_materials", _("New materials")
    HIGH_TECH_SERVICES = "high_tech_services", _("High-tech services")
    NEW_ENERGY = "new_energy", _("New energy and energy saving")
    RESOURCES_ENVIRONMENT = "resources_environment", _("Resources and environment")
    ADVANCED_MANUFACTURING = "advanced_manufacturing", _("Advanced manufacturing and automation")
    SCIENCE_TECH_SERVICES = "science_tech_services", _("Science and technology services")
    OTHER = "other", _("Other")


class FirmSize(models.TextChoices):
    MICRO = "micro", _("Micro enterprise")
    SMALL = "small", _("Small enterprise")
    MEDIUM = "medium", _("Medium enterprise")
    LARGE = "large", _("Large enterprise")
    INSTITUTION = "institution", _("University, institute or association")


class Qualification(models.TextChoices):
    HIGH_TECH = "high_tech", _("High and new technology enterprise")
    SPECIALISED = "specialised", _("Specialised, refined, distinctive and innovative SME")
    LITTLE_GIANT = "little_giant", _("National 'little giant' enterprise")
    SINGLE_CHAMPION = "single_champion", _("Manufacturing single champion")
    TECH_SME = "tech_sme", _("Technology-based SME")
    IP_ADVANTAGE = "ip_advantage", _("IP advantage or demonstration enterprise")


class MembershipRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    MEMBER = "member", _("Member")


class AuthorityLevel(models.TextChoices):
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")
    DISTRICT = "district", _("District or development zone")


class AssetKind(models.TextChoices):
    PATENT = "patent", _("Patent")
    TRADEMARK = "trademark", _("Trademark")
    COPYRIGHT = "copyright", _("Copyright")
    GEOGRAPHICAL_INDICATION = "geographical_indication", _("Geographical indication")
    PLANT_VARIETY = "plant_variety", _("Plant variety")
    IC_LAYOUT = "ic_layout", _("Integrated circuit layout design")
    TRADE_SECRET = "trade_secret", _("Trade secret")


class PatentType(models.TextChoices):
    INVENTION = "invention", _("Invention")
    UTILITY_MODEL = "utility_model", _("Utility model")
    DESIGN = "design", _("Design")


class LegalStatus(models.TextChoices):
    PENDING = "pending", _("Application pending")
    GRANTED = "granted", _("Granted or registered, in force")
    LAPSED = "lapsed", _("Lapsed (fees unpaid)")
    INVALIDATED = "invalidated", _("Invalidated or revoked")
    EXPIRED = "expired", _("Expired")


class WorkKind(models.TextChoices):
    SOFTWARE = "software", _("Computer software")
    LITERARY = "literary", _("Written work")
    ART = "art", _("Fine art or design")
    PHOTOGRAPHIC = "photographic", _("Photographic work")
    AUDIOVISUAL = "audiovisual", _("Audiovisual work")
    MUSIC = "music", _("Musical work")
    ENGINEERING = "engineering", _("Engineering or product drawing")
    DATABASE = "database", _("Compilation or database")
    OTHER = "other", _("Other work")


def _kind_label(kind) -> str:
    try:
        return str(AssetKind(kind).label)
    except ValueError:
        return str(kind or "")


def insured_right_label(item: dict) -> str:
    """An insured right of the policy's terms: "Patent · ZL… · title"."""
    parts = [_kind_label(item.get("kind")), str(item.get("number") or "")]
    if item.get("title"):
        parts.append(str(item["title"]))
    return " · ".join(part for part in parts if part)
