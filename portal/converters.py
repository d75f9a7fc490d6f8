"""The ``<id:...>`` path converter for object ids in page URLs.

Django's ``<int:...>`` accepts any number of digits, and a number beyond the database's 64-bit
integers overflows inside the database driver (``OverflowError`` on SQLite) when a view looks it
up through a foreign key, which Django's own range guard does not cover. ``<id:...>`` matches
only what a ``BigAutoField`` can hold, so such a URL simply answers 404.
"""

from django.urls import register_converter

# The largest value of a signed 64-bit integer column, the widest id the models use.
MAX_ID = 2**63 - 1


class IdConverter:
    # At most 19 digits keeps the regex cheap; to_python refuses the 19-digit numbers above
    # MAX_ID (a ValueError there means "no match", so the resolver answers 404).
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError("id out of range")
        return number

    def to_url(self, value) -> str:
        return str(value)


register_converter(IdConverter, "id")
