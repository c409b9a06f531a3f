"""Page-number pagination with a client-chosen page size (bounded).

Why page numbers: the lists here (artists, courses, search hits, history) are browsed by people and
small scripts, and ``?page=3`` links are easy to share. ``next``/``previous`` are absolute links; a page
past the end is a 404 in the error envelope that says which pages exist.
"""

from __future__ import annotations

from django.core.paginator import Paginator as DjangoPaginator
from rest_framework import pagination
from rest_framework.exceptions import NotFound


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    page_size_query_description = "Results per page (1–100, default 20)."

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None:
            try:
                size = int(raw)
            except ValueError:
                size = 0
            if not 1 <= size <= self.max_page_size:
                from rest_framework.exceptions import ValidationError

                raise ValidationError(
                    {
                        self.page_size_query_param: [
                            f"page_size must be a whole number from 1 to {self.max_page_size}, got {raw!r}."
                        ]
                    }
                )
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            pages = getattr(self, "_last_num_pages", None)
            raise NotFound(
                f"Page {request.query_params.get(self.page_query_param)!r} does not exist"
                + (f"; pages run from 1 to {pages}." if pages else ".")
                + " Follow the `next` links instead of guessing page numbers."
            ) from None

    def django_paginator_class(self, object_list, per_page, *args, **kwargs):  # type: ignore[override]
        paginator = DjangoPaginator(object_list, per_page, *args, **kwargs)
        self._last_num_pages = paginator.num_pages
        return paginator
