from django.apps import AppConfig


class ContactCentreConfig(AppConfig):
    name = "contactcentre"
    verbose_name = "Contact centre"

    def ready(self) -> None:
        from contactcentre import sign_in_limits  # noqa: F401  (connects the sign-in log's receivers)
