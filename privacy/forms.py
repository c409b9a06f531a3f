"""Forms of the learner settings page (``/settings/``, :mod:`learning_platform.learn.views`)."""

from __future__ import annotations

from django import forms


class TrainingOptOutForm(forms.Form):
    training_opt_out = forms.BooleanField(
        required=False,
        label="Leave my listening and interactions out of model training",
        help_text="Your recommendations stay personal either way; the next retraining is made without your data.",
    )


class AccountDeleteForm(forms.Form):
    password = forms.CharField(
        label="Your current password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Type your current password to confirm."},
    )
    confirm = forms.BooleanField(
        label="I understand that my account and all my data will be deleted for good.",
        error_messages={"required": "Tick the box to confirm that you want to delete your account."},
    )
