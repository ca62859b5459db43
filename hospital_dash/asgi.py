"""ASGI entry point of the web process: HTTP through Django, `/ws/dashboard/` through Channels.

Both go through uvicorn's ProxyHeadersMiddleware first, on daphne and on uvicorn alike (the
servers' own proxy-header handling is off, hospital_dash/web.py): when the direct peer is one
of `TRUSTED_PROXIES` (IPs or CIDR networks; default none), the client address becomes the
rightmost `X-Forwarded-For` entry that is not a trusted proxy and the scheme comes from
`X-Forwarded-Proto` (ws/wss for WebSockets); from any other peer both headers are ignored.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hospital_dash.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware  # noqa: E402

from dashboard.realtime.handshake_auth import DashboardAuthStack  # noqa: E402
from dashboard.realtime.routing import websocket_urlpatterns  # noqa: E402
from dashboard.sources.preflight import require_sources  # noqa: E402

require_sources("web")

application = ProxyHeadersMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": DashboardAuthStack(URLRouter(websocket_urlpatterns)),
        }
    ),
    trusted_hosts=list(settings.TRUSTED_PROXIES),
)
