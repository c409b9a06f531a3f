from django.apps import AppConfig


class LearnConfig(AppConfig):
    """The learner-facing web pages (templates, forms, thin views); no models of its own."""

    name = "learning_platform.learn"
    label = "learn"
