"""API endpoints of the shared kernel: who am I, and API tokens (knox).

``GET /api/v1/me/`` tells an integration whom its token acts for: the user, their firms and roles,
their authority if they are an officer, and their staff groups.

``/api/v1/tokens/`` lists the caller's tokens and creates one (firm owners and officers only; the
token is in the response once and never again); ``DELETE /api/v1/tokens/<token_key>/`` revokes
one of the caller's own tokens. The workspace pages (portal/token_views.py) do the same.
"""

import uritemplate
from django.conf import settings
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext_lazy
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import selectors
from portal.api import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_KEY_MAX,
    ErrorSerializer,
    api_token_create,
    api_token_max_days,
    api_token_revoke,
    api_tokens_of,
    may_create_api_tokens,
    token_prefix,
)
from portal.choices import MembershipRole
from portal.roles import STAFF_GROUPS, staff_groups_of

# --- The schema ---------------------------------------------------------------------------------


def _error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema plus what portal/api.py adds to every operation: the error
    responses in the one error shape, and the ``Idempotency-Key`` header (and its 422) on the
    methods wrapped by ``idempotent``. ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` may name it
    (``"portal.api_views.ApiAutoSchema"``), or a view sets ``schema = ApiAutoSchema()``.

    It lives here rather than in portal/api.py, which DRF imports while reading its settings and
    so cannot import ``drf_spectacular.openapi`` (that imports ``rest_framework.generics``)."""

    def _handler(self):
        return getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)

    def _is_idempotent(self) -> bool:
        return bool(getattr(self._handler(), "idempotent", False))

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._is_idempotent():
            parameters.append(
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    str,
                    OpenApiParameter.HEADER,
                    required=False,
                    description=gettext_lazy(
                        "Any unique string (at most %(max)s characters). A retry with the same "
                        "key and the same body returns the first response and does nothing."
                    )
                    % {"max": IDEMPOTENCY_KEY_MAX},
                )
            )
        return parameters

    def _error_codes(self) -> dict[str, str]:
        codes = {}
        writes = self.method in ("POST", "PUT", "PATCH", "DELETE")
        has_query = bool(self._get_filter_parameters() or self._get_pagination_parameters())
        has_path = bool(uritemplate.variables(self.path))
        if writes or has_query:
            codes["400"] = gettext_lazy("The request is not valid, or a business rule refused it.")
        if not any(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes["401"] = gettext_lazy(
                "No credentials, or a token that is unknown, expired or revoked."
            )
            codes["403"] = gettext_lazy("You may not do this.")
        if has_path or has_query:
            codes["404"] = gettext_lazy("Not found, or not yours.")
        if self.method in ("POST", "PUT", "PATCH"):
            codes["415"] = gettext_lazy("The body's Content-Type is not one the operation reads.")
        if self._is_idempotent():
            codes["422"] = gettext_lazy(
                "The Idempotency-Key was already used for a different request."
            )
        if self.view.get_throttles():
            codes["429"] = gettext_lazy("Too many requests: wait and retry (see Retry-After).")
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in self._error_codes().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    _error_response(description), code, direction=direction
                )
        return responses


# --- Me -----------------------------------------------------------------------------------------


class MeFirmSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text=gettext_lazy("In the language of the request."))
    name_zh = serializers.CharField()
    name_en = serializers.CharField(allow_blank=True)
    uscc = serializers.CharField(help_text=gettext_lazy("Unified Social Credit Code"))
    role = serializers.ChoiceField(choices=MembershipRole.choices)


class MeAuthoritySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    region_code = serializers.CharField()


class MeOfficerSerializer(serializers.Serializer):
    authority = MeAuthoritySerializer()
    title = serializers.CharField(allow_blank=True)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    full_name = serializers.CharField(allow_blank=True)
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES,
        help_text=gettext_lazy("The user's language in the portal (their choice, or the default)."),
    )
    firms = MeFirmSerializer(many=True)
    officer = MeOfficerSerializer(
        allow_null=True, help_text=gettext_lazy("Null unless the user is an officer.")
    )
    staff_groups = serializers.ListField(
        child=serializers.ChoiceField(choices=list(STAFF_GROUPS)),
        help_text=gettext_lazy("The insurer's staff groups of the user; empty for others."),
    )
    can_create_tokens = serializers.BooleanField(
        help_text=gettext_lazy("Whether the user may create API tokens (firm owners, officers).")
    )


def _me(user) -> dict:
    supported = {code for code, _name in settings.LANGUAGES}
    officer = None
    if user.is_officer:
        membership = user.officer_membership
        authority = membership.authority
        officer = {
            "authority": {
                "id": authority.pk,
                "name": authority.name,
                "region_code": authority.region_code,
            },
            "title": membership.title,
        }
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "language": user.preferred_language
        if user.preferred_language in supported
        else settings.LANGUAGE_CODE,
        "firms": [
            {
                "id": membership.firm_id,
                "name": membership.firm.name,
                "name_zh": membership.firm.name_zh,
                "name_en": membership.firm.name_en,
                "uscc": membership.firm.uscc,
                "role": membership.role,
            }
            for membership in selectors.memberships_of(user)
        ],
        "officer": officer,
        "staff_groups": staff_groups_of(user),
        "can_create_tokens": may_create_api_tokens(user),
    }


class MeView(APIView):
    """The signed-in user (or the token's owner): firms and roles, authority, staff groups."""

    schema = ApiAutoSchema()

    @extend_schema(operation_id="me_retrieve", responses=MeSerializer, tags=["me"])
    def get(self, request):
        return Response(MeSerializer(_me(request.user)).data)


# --- Tokens -------------------------------------------------------------------------------------


class TokenSerializer(serializers.Serializer):
    token_key = serializers.CharField(
        help_text=gettext_lazy("The token's public id: its first characters. Revoke by it.")
    )
    prefix = serializers.CharField(
        help_text=gettext_lazy("The first 8 characters, to recognise the token.")
    )
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)
    current = serializers.BooleanField(
        help_text=gettext_lazy("Whether this request is authenticated with this token.")
    )


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(
        help_text=gettext_lazy(
            "The token itself, for the Authorization header (Token …). Shown only once."
        )
    )


class TokenCreateSerializer(serializers.Serializer):
    def get_fields(self):
        # The maximum is this deployment's API_TOKEN_DAYS, read when the serializer is used.
        return {
            "expiry_days": serializers.IntegerField(
                required=False,
                min_value=1,
                max_value=api_token_max_days(),
                help_text=gettext_lazy(
                    "How many days the token is valid; the default and the maximum is "
                    "API_TOKEN_DAYS."
                ),
            )
        }


def _token_data(row, request, **extra) -> dict:
    current = getattr(request, "auth", None)
    return {
        "token_key": row.token_key,
        "prefix": token_prefix(row),
        "created": row.created,
        "expiry": row.expiry,
        "current": bool(current is not None and getattr(current, "digest", None) == row.digest),
        **extra,
    }


class TokenListCreateView(generics.ListCreateAPIView):
    """Your API tokens (list), and a new one (firm owners and officers)."""

    schema = ApiAutoSchema()
    serializer_class = TokenSerializer

    def get_queryset(self):
        return api_tokens_of(self.request.user)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            TokenSerializer([_token_data(row, request) for row in page], many=True).data
        )

    @extend_schema(operation_id="tokens_list", tags=["tokens"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="tokens_create",
        tags=["tokens"],
        request=TokenCreateSerializer,
        responses={201: TokenCreatedSerializer},
        description=(
            "Create a token for integrations, valid expiry_days (default and maximum: "
            "API_TOKEN_DAYS). Only firm owners and officers may. The token is in this response "
            "only: the portal keeps a hash. Not idempotent: a retry creates another token."
        ),
    )
    def post(self, request, *args, **kwargs):
        incoming = TokenCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        row, secret = api_token_create(
            user=request.user, days=incoming.validated_data.get("expiry_days")
        )
        body = TokenCreatedSerializer(_token_data(row, request, token=secret)).data
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class TokenDetailView(APIView):
    """Revoke one of your own API tokens, by its token_key."""

    schema = ApiAutoSchema()

    @extend_schema(
        operation_id="tokens_destroy",
        tags=["tokens"],
        parameters=[
            OpenApiParameter(
                "token_key",
                str,
                OpenApiParameter.PATH,
                description=gettext_lazy("The token_key from the list of your tokens."),
            )
        ],
        responses={204: OpenApiResponse(description=gettext_lazy("Revoked."))},
    )
    def delete(self, request, token_key):
        api_token_revoke(user=request.user, token_key=token_key)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("tokens/", TokenListCreateView.as_view(), name="tokens"),
    path("tokens/<str:token_key>/", TokenDetailView.as_view(), name="token-detail"),
]


# --- Shared by the apps' endpoints -----------------------------------------------------------

# The largest id a database integer column holds.
MAX_ID = 2**63 - 1
FILE_RESPONSE = {
    (200, "application/octet-stream"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The stored file, as an attachment of its own type."
    )
}


class FileDownloadNegotiation(BaseContentNegotiation):
    """Downloads answer with the stored file's own type whatever the client accepts; errors are
    rendered by the first renderer (JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def ids_or_404(*values: int) -> None:
    """Path ids beyond what the database's integers hold match nothing: 404, not an overflow
    (the selectors look some of them up through foreign keys, which Django does not guard)."""
    if any(value > MAX_ID for value in values):
        raise Http404
