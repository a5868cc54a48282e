from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from routing import selectors
        from runtime import metrics

        metrics.register(
            metrics.GaugeCollector(
                "contactcentre_chats_waiting",
                "Chats waiting in each queue now, read from the database at each scrape",
                ["company", "queue"],
                selectors.chats_waiting_by_queue,
            )
        )
