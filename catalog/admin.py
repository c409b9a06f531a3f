from django.contrib import admin

from catalog.models import Artist, Course, Friendship, Interaction, Interest, Listen, Listener, Tag, TagAssignment, Work


@admin.register(Artist)
class ArtistAdmin(admin.ModelAdmin):
    list_display = ("name", "lastfm_id", "entity_id", "kgcn_entity")
    search_fields = ("name", "=lastfm_id", "entity_id")
    readonly_fields = ("entity_id", "kgcn_entity", "created_at", "updated_at")


@admin.register(Listener)
class ListenerAdmin(admin.ModelAdmin):
    list_display = ("__str__", "lastfm_id", "user")
    search_fields = ("=lastfm_id", "user__username")
    raw_id_fields = ("user",)


@admin.register(Listen)
class ListenAdmin(admin.ModelAdmin):
    list_display = ("listener", "artist", "play_count")
    search_fields = ("artist__name", "=listener__lastfm_id")
    raw_id_fields = ("listener", "artist")
    list_select_related = ("listener__user", "artist")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "lastfm_id", "entity_id")
    search_fields = ("name",)


@admin.register(TagAssignment)
class TagAssignmentAdmin(admin.ModelAdmin):
    list_display = ("listener", "artist", "tag", "tagged_on")
    search_fields = ("tag__name", "artist__name")
    raw_id_fields = ("listener", "artist", "tag")
    list_select_related = ("listener__user", "artist", "tag")


@admin.register(Friendship)
class FriendshipAdmin(admin.ModelAdmin):
    list_display = ("listener", "friend")
    raw_id_fields = ("listener", "friend")
    list_select_related = ("listener__user", "friend__user")


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Browse and search only: these rows are written by a loader or a service that checks them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Course)
class CourseAdmin(_ReadOnlyAdmin):
    """Courses are owned by ``manage.py load_courses``.

    Why read-only: each row mirrors the graph entity ``udemy:course:<id>`` and its links; an edit here
    would not reach the graph and the next load would undo it. Fix the data file and load again.
    """

    list_display = (
        "title",
        "level",
        "is_paid",
        "price",
        "subscribers",
        "reviews",
        "lectures",
        "duration_hours",
        "published_at",
    )
    list_filter = ("level", "is_paid", "subject")
    search_fields = ("title", "=udemy_id", "entity_id")
    date_hierarchy = "published_at"
    ordering = ("-subscribers",)


@admin.register(Interaction)
class InteractionAdmin(_ReadOnlyAdmin):
    """The append-only event log: curators can read what learners did, never rewrite it."""

    list_display = ("created_at", "listener", "kind", "artist", "course")
    list_filter = ("kind", "created_at")
    search_fields = ("listener__user__username", "=listener__lastfm_id", "artist__name", "course__title")
    date_hierarchy = "created_at"
    list_select_related = ("listener__user", "artist", "course")
    raw_id_fields = ("listener", "artist", "course")


@admin.register(Interest)
class InterestAdmin(admin.ModelAdmin):
    """Onboarding picks. Curators may remove a pick; adding or editing one here would skip the check
    that the entity exists in the graph, so new picks come only through the onboarding service."""

    list_display = ("listener", "name", "entity_type", "entity_id", "created_at")
    list_filter = ("entity_type",)
    search_fields = ("name", "entity_id", "listener__user__username", "=listener__lastfm_id")
    list_select_related = ("listener__user",)
    raw_id_fields = ("listener",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Work)
class WorkAdmin(_ReadOnlyAdmin):
    """Works are owned by ``manage.py load_works``.

    Why read-only: each row mirrors the graph entity ``leitmotif:work:<slug>`` and its relations, and its
    audio is rendered from the score; an edit here would reach neither. Change the loader's tables and
    load again.
    """

    list_display = ("title", "composer_name", "era", "form", "key", "metre", "collection", "duration_seconds")
    list_filter = ("era", "form", "collection", "metre")
    search_fields = ("title", "composer_name", "slug", "corpus_path", "entity_id")
    readonly_fields = ("created_at", "updated_at")
