"""The data-rights audit trail and the forgetting mask, read-only in the admin (they are written by services only)."""

from __future__ import annotations

from django.contrib import admin

from privacy.models import DataRightsEvent, ForgottenListener


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DataRightsEvent)
class DataRightsEventAdmin(_ReadOnly):
    list_display = ("at", "action", "channel", "subject")
    list_filter = ("action", "channel")
    search_fields = ("subject",)
    date_hierarchy = "at"


@admin.register(ForgottenListener)
class ForgottenListenerAdmin(_ReadOnly):
    list_display = ("listener_id", "forgotten_at")
