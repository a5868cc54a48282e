from django.apps import AppConfig


class ContactCentreConfig(AppConfig):
    name = "contactcentre"
    verbose_name = "Contact centre"

    def ready(self) -> None:
        from contactcentre import audit, sign_in_limits, signals  # noqa: F401  (the last two connect receivers)

        audit.register_audited_models()
