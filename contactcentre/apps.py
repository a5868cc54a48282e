from django.apps import AppConfig


class ContactCentreConfig(AppConfig):
    name = "contactcentre"
    verbose_name = "Contact centre"

    def ready(self) -> None:
        from contactcentre import audit, sign_in_limits  # noqa: F401  (sign_in_limits connects the log's receivers)

        audit.register_audited_models()
