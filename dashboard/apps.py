from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Live dashboard"

    def ready(self) -> None:
        from dashboard.access import login_events, signals

        signals.connect()
        login_events.connect()
