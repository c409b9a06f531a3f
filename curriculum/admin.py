"""Curator admin for learner progress (the curriculum itself is edited as graph entities and relations)."""

from django.contrib import admin

from curriculum.models import ConceptMastery, LearnerProfile


@admin.register(LearnerProfile)
class LearnerProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "level", "instruments", "updated_at")
    list_filter = ("level",)
    search_fields = ("user__username",)
    raw_id_fields = ("user",)


@admin.register(ConceptMastery)
class ConceptMasteryAdmin(admin.ModelAdmin):
    list_display = ("user", "concept_id", "mastery", "source", "evidence", "updated_at")
    list_filter = ("source",)
    search_fields = ("user__username", "concept_id")
    raw_id_fields = ("user",)
