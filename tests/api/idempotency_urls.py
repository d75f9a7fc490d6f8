"""A test-only URLconf (``@pytest.mark.urls``): a minimal create endpoint wrapped by
``portal.api.idempotent``, so the decorator is tested apart from any real endpoint. The API's
own middleware and settings still apply (error shape, language)."""

from django.urls import path
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api import idempotent
from portal.api_views import ApiAutoSchema
from portal.models import Notification


class NoteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=100)
    count = serializers.IntegerField(min_value=1, max_value=10, required=False)


class NoteCreateView(APIView):
    schema = ApiAutoSchema()

    @idempotent
    def post(self, request):
        incoming = NoteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        note = Notification.objects.create(
            user=request.user, title=incoming.validated_data["title"]
        )
        return Response({"id": note.pk, "title": note.title}, status=status.HTTP_201_CREATED)


urlpatterns = [path("api/v1/notes/", NoteCreateView.as_view(), name="notes")]
