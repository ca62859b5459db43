"""The API's documentation page, /api/docs/: Swagger UI from drf-spectacular-sidecar's static files.

The split view serves its start-up script as a file of its own (`?script`), and the template
takes the page's few style rules from a file, so the page runs under the site's
Content-Security-Policy (scripts and styles from 'self' only) unchanged, without a CDN.

The page and the schema (/api/schema/) are public, as an API's description usually is: they
list the endpoints and their answers, never any data, and every endpoint still checks its caller.
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI for GET /api/schema/."""

    template_name = "dashboard/api_docs.html"
