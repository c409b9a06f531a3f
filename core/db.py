"""Shared model building blocks."""

from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def refresh_planner_statistics(*model_classes: type[models.Model]) -> None:
    """``ANALYZE`` the tables of ``model_classes`` on PostgreSQL (nothing on other databases).

    Why after a bulk load: until autovacuum runs (and never inside the transaction that wrote the
    rows) PostgreSQL plans with the row counts of the empty tables, so a join over 90,000 listens and
    17,000 artists can become a nested loop that runs for minutes instead of milliseconds.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in model_classes:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
