"""A learner's data rights (app label ``privacy``): export everything the platform holds about them,
delete the account and all of it, opt out of training, each action audited without keeping the data.

Layer: above :mod:`curriculum` and :mod:`audio` (it gathers what every app holds), below the project.
"""

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "privacy"
    label = "privacy"

    def ready(self) -> None:
        # Serving (a lower layer) cannot import privacy: privacy hands it the mask of forgotten listeners.
        from privacy.selectors import forgotten_listener_ids
        from recommender.serving.masks import listener_mask_register

        listener_mask_register(forgotten_listener_ids)
