from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "learning_platform.accounts"
    label = "accounts"
