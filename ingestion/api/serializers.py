"""Request and response shapes of ``/api/v1/ingestion/``."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from ingestion.documents import MEDIA_TYPES
from ingestion.models import IngestionJob, SourceDocument

TEXT_MEDIA_TYPES = sorted(MEDIA_TYPES - {"application/jsonl"})


class DocumentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=500, help_text="A name for provenance, e.g. the source URL or file name.")
    text = serializers.CharField(trim_whitespace=False, help_text="The document text (UTF-8).")
    media_type = serializers.ChoiceField(choices=TEXT_MEDIA_TYPES, default="text/plain")
    title = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def validate_text(self, value: str) -> str:
        limit = settings.INGESTION_MAX_DOCUMENT_BYTES
        size = len(value.encode("utf-8"))
        if size > limit:
            raise serializers.ValidationError(
                f"The text is {size:,} bytes; the limit is {limit:,}. Split it into several documents."
            )
        if not value.strip():
            raise serializers.ValidationError("The text is empty; send the document's text.")
        return value


class IngestionRequestSerializer(serializers.Serializer):
    documents = DocumentInputSerializer(
        many=True, required=False, help_text="Documents as JSON (or upload files as multipart `files`)."
    )


class IngestionDocumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = SourceDocument
        fields = ["id", "name", "title", "media_type", "sha256", "sentences", "created_at"]


class IngestionJobSerializer(serializers.ModelSerializer):
    documents = IngestionDocumentSerializer(many=True, read_only=True)
    submitted_by = serializers.CharField(source="submitted_by.get_username", default=None, read_only=True)

    class Meta:
        model = IngestionJob
        fields = [
            "id",
            "status",
            "origin",
            "submitted_by",
            "created_at",
            "started_at",
            "finished_at",
            "summary",
            "error",
            "documents",
        ]
