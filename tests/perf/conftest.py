from tests.underwriting.conftest import seeded_catalogue  # noqa: F401 - shared fixture
