from django.contrib import admin
from django.urls import include, path

from contactcentre import views
from runtime import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("contactcentre.auth_urls")),
    path("api/webchat/v1/", include("webchat.api_urls")),
    path("api/telephony/v1/", include("routing.urls")),
    path("", include("webchat.widget_urls")),
    path("", include("webchat.urls")),
    path("contacts/", include("crm.urls")),
    path("reports/", include("reports.urls")),
]
