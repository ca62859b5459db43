from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Live dashboard"

    def ready(self) -> None:
        from django.core.signals import request_finished

        from dashboard.access import login_events, signals
        from dashboard.sources import log_context

        signals.connect()
        login_events.connect()
        # Django logs a 4xx/5xx response after the middleware returns: clear the ids only then.
        request_finished.connect(log_context.clear, dispatch_uid="dash-log-context-clear")
