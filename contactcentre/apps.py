from django.apps import AppConfig


class ContactCentreConfig(AppConfig):
    name = "contactcentre"
    verbose_name = "Contact centre"

    def ready(self) -> None:
        from contactcentre import signals  # noqa: F401  (connects the receivers)
