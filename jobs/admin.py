"""Background jobs in the admin: a read-only list (the task queue writes these rows, people only read them)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "task_name",
        "status",
        "attempts",
        "progress",
        "submitted_by",
        "created_at",
        "finished_at",
        "short_error",
    )
    list_filter = ("status", "task_name")
    search_fields = ("=id", "task_name", "error")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Job._meta.fields]
    ordering = ("-created_at",)

    @admin.display(description="error")
    def short_error(self, job: Job) -> str:
        return job.error[:120]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
