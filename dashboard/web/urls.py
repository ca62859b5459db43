from django.contrib.auth import views as auth_views
from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from dashboard.web import api_views, docs_views, health_views, page_views, system_health_views, token_views

urlpatterns = [
    path("", page_views.dashboard_page, name="dashboard"),
    path("page/version/", page_views.page_version, name="page_version"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/auth/token/", token_views.TokenObtainView.as_view(), name="token_obtain_pair"),
    path("api/auth/token/refresh/", token_views.TokenRefreshView.as_view(), name="token_refresh"),
    path("api/auth/token/blacklist/", token_views.TokenBlacklistView.as_view(), name="token_blacklist"),
    path("api/ws-ticket/", api_views.WsTicketView.as_view(), name="ws_ticket"),
    path("api/snapshot/", api_views.SnapshotView.as_view(), name="snapshot"),
    path("api/alerts/", api_views.AlertListView.as_view(), name="alerts"),
    path("api/alerts/<str:alert_id>/ack/", api_views.AlertAckView.as_view(), name="alert_ack"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", docs_views.ApiDocsView.as_view(url_name="api_schema"), name="api_docs"),
    path("healthz", health_views.healthz, name="healthz"),
    path("readyz", health_views.readyz, name="readyz"),
    path("metrics", health_views.metrics, name="metrics"),
    path("system-health/", system_health_views.system_health, name="system_health"),
]
