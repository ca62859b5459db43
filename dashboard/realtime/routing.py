from django.urls import path

from dashboard.realtime.consumer import DashboardConsumer

websocket_urlpatterns = [path("ws/dashboard/", DashboardConsumer.as_asgi())]
