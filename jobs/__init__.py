"""Background jobs: one generic record per task run (name, arguments, status, attempts, progress, error) and the
Celery task base that keeps it up to date, so the API and the admin can say what happened to any job.

Layer: right above ``core`` (README map), so every package that defines tasks (ingestion, kg, recommender,
audio) may import it; it imports nothing of theirs and dispatches their tasks by name.
"""
