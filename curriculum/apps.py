from django.apps import AppConfig


class CurriculumConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "curriculum"
    label = "curriculum"

    def ready(self) -> None:
        # Course recommendations (a layer below) follow the instruments of the learner's profile.
        from curriculum.selectors import stated_instruments
        from recommender.serving.services import stated_instruments_reader_set

        stated_instruments_reader_set(stated_instruments)
