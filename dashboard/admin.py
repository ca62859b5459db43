"""Django admin for staff: departments, dashboard roles inline on users, the read-only access log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from dashboard.access.users import validate_role_departments
from dashboard.models import AccessLog, DashboardProfile, Department


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "active")
    list_filter = ("active",)
    search_fields = ("code", "name")


class DashboardProfileForm(forms.ModelForm):
    class Meta:
        model = DashboardProfile
        fields = ("role", "departments")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        departments = cleaned.get("departments") or []
        try:
            validate_role_departments(cleaned.get("role", ""), [d.code for d in departments])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        return cleaned


class DashboardProfileInline(admin.StackedInline):
    model = DashboardProfile
    form = DashboardProfileForm
    can_delete = False
    filter_horizontal = ("departments",)
    verbose_name_plural = "Dashboard access"


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class DashboardUserAdmin(UserAdmin):
    inlines = (DashboardProfileInline,)
    list_display = ("username", "email", "is_active", "is_staff", "dashboard_role")

    @admin.display(description="Dashboard role")
    def dashboard_role(self, user: Any) -> str:
        profile = getattr(user, "dashboard_profile", None)
        return profile.role if profile else "-"


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    list_display = ("at", "username", "action", "scope", "client_address", "detail")
    list_filter = ("action",)
    search_fields = ("username", "scope", "client_address")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
