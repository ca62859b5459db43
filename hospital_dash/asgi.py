"""ASGI entry point for daphne: HTTP through Django, `/ws/dashboard/` through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hospital_dash.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dashboard.realtime.handshake_auth import DashboardAuthStack  # noqa: E402
from dashboard.realtime.routing import websocket_urlpatterns  # noqa: E402
from dashboard.sources.preflight import require_sources  # noqa: E402

require_sources("web")

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": DashboardAuthStack(URLRouter(websocket_urlpatterns)),
    }
)
