from django.contrib import admin
from django.urls import path

from . import views

admin.site.site_header = "Leitmotif curator admin"
admin.site.site_title = "Leitmotif"

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
]
