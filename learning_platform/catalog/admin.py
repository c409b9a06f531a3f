from django.contrib import admin

from .models import Artist, Friendship, Listen, Listener, Tag, TagAssignment


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
