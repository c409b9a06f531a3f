"""Input and output shapes of the data-rights API (:mod:`privacy.api`)."""

from __future__ import annotations

from rest_framework import serializers


class ExportQuerySerializer(serializers.Serializer):
    download = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: answer as a file download (Content-Disposition: attachment) instead of inline JSON.",
    )


class PasswordConfirmationSerializer(serializers.Serializer):
    password = serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        max_length=4096,
        help_text="Your current password: deleting the account cannot be undone.",
    )


class DeletionReceiptSerializer(serializers.Serializer):
    deleted = serializers.BooleanField(help_text="Always true: the account and its data are gone.")
    rows_deleted = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows deleted per model, e.g. {'catalog.Listen': 12}."
    )
    rows_anonymised = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Rows kept without you as their author (graph edits and fact reviews of a curator).",
    )
    trained_row_masked = serializers.BooleanField(
        help_text="Your listening was in a trained recommender model: its row for you is masked now and "
        "disappears with the next retraining."
    )
    message = serializers.CharField()


class TrainingOptOutInputSerializer(serializers.Serializer):
    training_opt_out = serializers.BooleanField(
        help_text="true: leave my listening and interactions out of model training from the next retrain on."
    )


class TrainingOptOutSerializer(serializers.Serializer):
    training_opt_out = serializers.BooleanField()
    applies = serializers.BooleanField(help_text="false for accounts without a listening history (not learners).")
    in_published_model = serializers.BooleanField(
        help_text="The model serving now was trained with your listening (it keeps it until the next retrain)."
    )
    message = serializers.CharField()


class DataExportSerializer(serializers.Serializer):
    """The export's top level (every section is documented in :mod:`privacy.selectors`)."""

    schema = serializers.CharField()
    schema_version = serializers.IntegerField()
    generated_at = serializers.DateTimeField()
    account = serializers.DictField()
    profile = serializers.DictField(allow_null=True)
    listener = serializers.DictField(allow_null=True)
    interests = serializers.ListField(child=serializers.DictField())
    listens = serializers.ListField(child=serializers.DictField())
    interactions = serializers.ListField(child=serializers.DictField())
    progress = serializers.DictField()
    mastery = serializers.ListField(child=serializers.DictField())
    tag_assignments = serializers.ListField(child=serializers.DictField())
    friendships = serializers.ListField(child=serializers.DictField())
    ingestion_jobs = serializers.ListField(child=serializers.DictField())
    api_tokens = serializers.ListField(
        child=serializers.DictField(), help_text="Created time and the key's first characters ('abcd…'), never the key."
    )
    login_records = serializers.DictField()
    curation = serializers.DictField()
    admin_log = serializers.ListField(child=serializers.DictField())
    models = serializers.DictField()
    data_rights_events = serializers.ListField(child=serializers.DictField())
    notes = serializers.ListField(child=serializers.CharField())
    counts = serializers.DictField(child=serializers.IntegerField())
