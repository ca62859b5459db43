"""Who may see what (contract §2) and the access log (contract §6)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from dashboard.sources.contract import DEPARTMENT_CODE_RE, DEPARTMENT_CODE_RULE

department_code_validator = RegexValidator(rf"^{DEPARTMENT_CODE_RE.pattern}$", DEPARTMENT_CODE_RULE)


class Department(models.Model):
    code = models.CharField(max_length=16, unique=True, validators=[department_code_validator])
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    VIEWER = "viewer", "Viewer"
    DEPARTMENT = "department", "Department"


class DashboardProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dashboard_profile"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    departments = models.ManyToManyField(Department, blank=True, related_name="profiles")

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class AccessLog(models.Model):
    class Action(models.TextChoices):
        CONNECT = "connect"
        DISCONNECT = "disconnect"
        SUBSCRIBE = "subscribe"
        UNSUBSCRIBE = "unsubscribe"
        ACKNOWLEDGE = "acknowledge"
        API_READ = "api_read"
        LOGIN_FAILED = "login_failed"
        LOCKED_OUT = "locked_out"

    at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=16, choices=Action.choices)
    scope = models.CharField(max_length=32, blank=True)
    client_address = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.scope}"
