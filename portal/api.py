"""What every endpoint of the REST API shares: one error shape, pagination, idempotent creates,
and the language of the request.

Errors always look like::

    {"error": {"code": "invalid", "message": "…", "fields": {"name": ["…"]}}}

with the message and field messages in the request's language (``Accept-Language``; the API, unlike
the pages, honours it, since integrations have no language cookie). Business refusals
(``DomainError``) keep their code: 400, or 403 for ``PermissionDenied``.

Creates accept an ``Idempotency-Key`` header: the first response is stored with the key, and a
retry with the same key and the same body returns it again without doing anything; the same key
with a different body is refused (422).

``ErrorSerializer`` documents the error shape (``portal.api_views.ApiAutoSchema`` adds it to every
operation of the schema), and the API tokens of integrations (knox: only a hash is stored) are
created, listed and revoked here, for the API and for the two workspaces' token pages.

This module is imported while DRF reads its settings (``StandardPagination``,
``exception_handler``), so it must not import ``rest_framework.generics`` or
``drf_spectacular.openapi``: that would be a circular import.
"""

import functools
import hashlib
import json
import re
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError, IntegrityError, transaction
from django.db.models import Q
from django.http import Http404, JsonResponse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from knox.models import AuthToken
from knox.settings import CONSTANTS as KNOX_CONSTANTS
from knox.settings import knox_settings
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.choices import MembershipRole
from portal.errors import DomainError
from portal.errors import PermissionDenied as DomainPermissionDenied
from portal.models import IdempotencyKey, Membership

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = IdempotencyKey.KEY_MAX


# --- Errors -----------------------------------------------------------------------------------


def _error(code: str, message, fields=None, *, status_code: int) -> Response:
    body = {"error": {"code": code, "message": str(message)}}
    if fields:
        body["error"]["fields"] = fields
    return Response(body, status=status_code)


def _field_messages(detail) -> dict:
    """``{"name": [...], "items.0.amount": [...], "non_field_errors": [...]}`` from DRF's nested
    error detail (dicts of fields, lists of items, lists of messages)."""
    flat: dict[str, list[str]] = {}

    def walk(value, name: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{name}.{key}" if name else str(key))
        elif isinstance(value, list) and any(isinstance(item, dict | list) for item in value):
            for index, inner in enumerate(value):
                if inner:  # a valid item of a list serializer reports an empty dict
                    walk(inner, f"{name}.{index}" if name else str(index))
        else:
            messages = value if isinstance(value, list) else [value]
            flat.setdefault(name or "non_field_errors", []).extend(str(m) for m in messages)

    walk(detail, "")
    return flat


def exception_handler(exc, context):
    """DRF's handler, reshaped into the one error body; domain refusals included."""
    if isinstance(exc, DomainError):
        fields = getattr(exc, "errors", None)
        if fields:
            fields = {name: [str(message)] for name, message in fields.items()}
        status_code = 403 if isinstance(exc, DomainPermissionDenied) else 400
        return _error(exc.code, exc.message, fields, status_code=status_code)
    if isinstance(exc, DataError):
        # What the database refuses to store or compare (a NUL character, a number out of
        # range) is bad input the validators did not anticipate, not a server fault.
        return _error(
            "invalid",
            _("The request contains characters or numbers that cannot be stored."),
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = _error(
            "invalid",
            _("Some fields need your attention."),
            _field_messages(exc.detail),
            status_code=response.status_code,
        ).data
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(exc, "default_code", "error")
        if isinstance(detail, exceptions.ErrorDetail):
            code = detail.code or code
        body = {"error": {"code": code, "message": str(detail)}}
    response.data = body
    return response


def is_api_request(request) -> bool:
    return request.path.startswith("/api/")


_PAGE_ERRORS = {
    # status: (code, the DRF exception whose message, translated by DRF, is used)
    400: ("parse_error", exceptions.ParseError),
    403: ("permission_denied", exceptions.PermissionDenied),
    404: ("not_found", exceptions.NotFound),
    500: ("error", exceptions.APIException),
}


def error_json(request, status_code: int):
    """For Django's own error handlers (handler404 etc.): under /api/ the error shape as JSON
    rather than the HTML page, e.g. for a URL that matches no endpoint; None elsewhere."""
    if not is_api_request(request) or status_code not in _PAGE_ERRORS:
        return None
    code, exception = _PAGE_ERRORS[status_code]
    return JsonResponse(
        {"error": {"code": code, "message": str(exception.default_detail)}},
        status=status_code,
        json_dumps_params={"ensure_ascii": False},
    )


# --- List rows --------------------------------------------------------------------------------
# The applicant's lists write their rows out by hand (``ApplicationSerializer``,
# ``PolicySerializer``, ``ClaimSummarySerializer``): DRF binds and walks every field for every row,
# which cost as much as the rest of the request. The values go through one instance of the field
# DRF would use, so they are formatted exactly alike; tests/api/test_list_rows.py compares.

_DATETIME = serializers.DateTimeField()
_DATE = serializers.DateField()
_DECIMALS: dict[tuple[int, int], serializers.DecimalField] = {}


def row_datetime(value):
    return None if value is None else _DATETIME.to_representation(value)


def row_date(value):
    return None if value is None else _DATE.to_representation(value)


def row_decimal(value, max_digits: int, decimal_places: int):
    if value is None:
        return None
    field = _DECIMALS.get((max_digits, decimal_places))
    if field is None:
        field = _DECIMALS.setdefault(
            (max_digits, decimal_places),
            serializers.DecimalField(max_digits=max_digits, decimal_places=decimal_places),
        )
    return field.to_representation(value)


def row_strings(values):
    """A ``ListField(child=CharField())``."""
    if values is None:
        return None
    return [None if value is None else str(value) for value in values]


def choice_labels(model, field_name: str) -> dict:
    """What ``get_<field>_display()`` returns for each value, in the active language."""
    return {value: str(label) for value, label in model._meta.get_field(field_name).flatchoices}


def row_label(labels: dict, value):
    label = labels.get(value, value)
    return None if label is None else str(label)


# --- Pagination -------------------------------------------------------------------------------


class StandardPagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


# --- Language ---------------------------------------------------------------------------------


class ApiLanguageMiddleware:
    """Under /api/ the language comes from Accept-Language (then the portal's default)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        language = translation.get_language_from_request(request, check_path=False)
        supported = {code for code, _name in settings.LANGUAGES}
        if language not in supported:
            language = settings.LANGUAGE_CODE
        with translation.override(language):
            request.LANGUAGE_CODE = language
            response = self.get_response(request)
        response.headers["Content-Language"] = language
        patch_vary_headers(response, ["Accept-Language"])
        return response


# --- Idempotent creates -----------------------------------------------------------------------


def _file_digest(upload) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _fingerprint(request) -> str:
    """What makes two requests the same: method, path, body and the content of uploaded files.
    A body that does not parse raises ParseError here (a 400), as the view itself would."""
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict (form or multipart): keep repeated fields
        payload = {key: sorted(map(str, values)) for key, values in data.lists()}
    else:
        payload = data
    raw = json.dumps(payload, sort_keys=True, default=str)
    files = sorted(
        (name, getattr(upload, "name", ""), _file_digest(upload))
        for name, uploads in request.FILES.lists()
        for upload in uploads
    )
    text = f"{request.method} {request.path} {raw} {files}"
    return hashlib.sha256(text.encode()).hexdigest()


def idempotent(view_method):
    """Wrap a view method (``post``/``create``/an action) so a retried request with the same
    ``Idempotency-Key`` gets the first response back and creates nothing new."""

    @functools.wraps(view_method)
    def wrapped(self, request, *args, **kwargs):
        key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
        if not key or not request.user.is_authenticated:
            return view_method(self, request, *args, **kwargs)
        if len(key) > IDEMPOTENCY_KEY_MAX:
            return _error(
                "idempotency_key",
                _("The Idempotency-Key header is longer than %(max)s characters.")
                % {"max": IDEMPOTENCY_KEY_MAX},
                status_code=status.HTTP_400_BAD_REQUEST,
            )
        fingerprint = _fingerprint(request)
        raced = False
        with transaction.atomic():
            stored = (
                IdempotencyKey.objects.select_for_update()
                .filter(user=request.user, key=key)
                .first()
            )
            if stored is not None:
                return _replay(stored, fingerprint)
            response = view_method(self, request, *args, **kwargs)
            if response.status_code >= 500:
                return response
            try:
                with transaction.atomic():
                    IdempotencyKey.objects.create(
                        user=request.user,
                        key=key,
                        method=request.method,
                        path=request.path[:300],
                        fingerprint=fingerprint,
                        status_code=response.status_code,
                        body=json.loads(json.dumps(response.data, default=str)),
                    )
            except IntegrityError:
                # A concurrent retry stored its response first: undo what this one did, and
                # answer with the stored response once this transaction is rolled back (no query
                # may run in it any more).
                transaction.set_rollback(True)
                raced = True
        if raced:
            return _replay(IdempotencyKey.objects.get(user=request.user, key=key), fingerprint)
        response["Idempotency-Key"] = key
        return response

    wrapped.idempotent = True  # ApiAutoSchema documents the header and the 422
    return wrapped


def _replay(stored: IdempotencyKey, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        return _error(
            "idempotency_key_reused",
            _("This Idempotency-Key was already used for a different request."),
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    response = Response(stored.body, status=stored.status_code)
    response["Idempotency-Key"] = stored.key
    response["Idempotent-Replayed"] = "true"
    return response


# --- The schema ---------------------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    """The inside of every error body (documentation only)."""

    def get_fields(self):
        # "fields" cannot be declared as a class attribute: it is the serializer's own property.
        return {
            "code": serializers.CharField(
                help_text=_("A stable, machine-readable code, e.g. invalid or not_found.")
            ),
            "message": serializers.CharField(
                help_text=_("A sentence for people, in the language of the request.")
            ),
            "fields": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField()),
                required=False,
                help_text=_("Messages by field, for validation errors."),
            ),
        }


class ErrorSerializer(serializers.Serializer):
    """Every error of the API: ``{"error": {"code", "message", "fields"?}}`` (documentation)."""

    error = ErrorDetailSerializer()


# --- API tokens ---------------------------------------------------------------------------------
# Knox keeps a hash of each token and its first characters (``token_key``, the token's public
# id); the token itself is shown once, when it is created. Firm owners and officers create tokens
# for their integrations; anyone may list and revoke their own.

TOKEN_KEY_MAX = KNOX_CONSTANTS.MAXIMUM_TOKEN_PREFIX_LENGTH + KNOX_CONSTANTS.TOKEN_KEY_LENGTH
TOKEN_KEY_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{1,{TOKEN_KEY_MAX}}}")
TOKEN_PREFIX_SHOWN = 8


def api_token_max_days() -> int:
    """The lifetime of a new token, and the longest one may ask for (``API_TOKEN_DAYS``)."""
    return max(1, knox_settings.TOKEN_TTL.days)


def api_token_limit() -> int | None:
    return knox_settings.TOKEN_LIMIT_PER_USER


def may_create_api_tokens(user) -> bool:
    """Owners of a firm (any of theirs) and officers; members, staff and visitors may not."""
    if not user.is_authenticated:
        return False
    return (
        user.is_officer or Membership.objects.filter(user=user, role=MembershipRole.OWNER).exists()
    )


def api_tokens_of(user):
    """The user's tokens that still work, newest first."""
    return (
        AuthToken.objects.filter(user=user)
        .filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))
        .order_by("-created", "token_key")
    )


def api_token_create(*, user, days: int | None = None) -> tuple[AuthToken, str]:
    """A new token for ``user``, valid ``days`` (at most ``API_TOKEN_DAYS``); returns the stored
    row and the token itself, which is never stored and cannot be shown again."""
    if not may_create_api_tokens(user):
        raise DomainPermissionDenied(_("Only a firm owner or an officer may create API tokens."))
    maximum = api_token_max_days()
    days = maximum if days is None else days
    if not 1 <= days <= maximum:
        raise DomainError(
            _("A token is valid for 1 to %(max)s days.") % {"max": maximum}, code="invalid"
        )
    limit = api_token_limit()
    with transaction.atomic():
        # One user's creations queue here so the limit holds under concurrent requests.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if limit is not None and api_tokens_of(user).count() >= limit:
            raise DomainError(
                _("You already have %(limit)s API tokens, the most allowed: revoke one first.")
                % {"limit": limit},
                code="token_limit",
            )
        return AuthToken.objects.create(user, expiry=timedelta(days=days))


def api_token_revoke(*, user, token_key: str) -> None:
    """Revoke one of the user's own tokens; another user's token, or none, is a 404."""
    if not TOKEN_KEY_PATTERN.fullmatch(token_key or ""):
        raise Http404
    deleted, _rows = AuthToken.objects.filter(user=user, token_key=token_key).delete()
    if not deleted:
        raise Http404


def token_prefix(token: AuthToken) -> str:
    return token.token_key[:TOKEN_PREFIX_SHOWN]


# Refusals of an upload service that concern the chosen checklist item or the case, not the file.
UPLOAD_NOT_ABOUT_THE_FILE = {"code", "closed", "forbidden"}


def attach_upload_error(error) -> None:
    """As on the pages: an upload refusal's message belongs to the field it is about."""
    if getattr(error, "errors", None):
        return
    if error.code == "code":
        error.errors = {"code": error.message}
    elif error.code not in UPLOAD_NOT_ABOUT_THE_FILE:
        error.errors = {"file": error.message}
