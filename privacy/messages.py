"""Sentences the API and the settings page both show after a data-rights action (one wording, two channels)."""

from __future__ import annotations

from privacy.selectors import TrainingOptOutState


def deletion_message(*, trained_row_masked: bool) -> str:
    message = "Your account and everything Leitmotif held about you have been deleted."
    if trained_row_masked:
        message += (
            " Your listening was part of the recommender's last training: that model can no longer use it, and "
            "the next retraining is made without it."
        )
    return message


def opt_out_message(state: TrainingOptOutState) -> str:
    if not state.applies:
        return "This account has no listening history, so there is nothing that could train the recommender."
    if state.training_opt_out:
        message = (
            "Your listening and interactions are left out of model training from the next retraining on. "
            "Your recommendations stay personal: they are built from your history when you ask for them."
        )
        if state.in_published_model:
            message += " The model serving now was trained before you opted out; the next one will not include you."
        return message
    return "Your listening and interactions help train Leitmotif's recommender (you can opt out at any time)."
