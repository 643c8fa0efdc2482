"""API versions by URL prefix: `/api/v1/` (namespace `api`) and `/api/v2/` (namespace `api-v2`) serve the same
views; `request.version` tells them apart. v2 changes one thing: list endpoints page by a keyset cursor
(`{"next", "previous", "results"}`, no `count`, `?cursor=` instead of `?offset=`), so a page deep in a long list
costs what the first one costs (issue 11). Everything else answers the same in both.

A NamespaceVersioning subclass so drf-spectacular can build one schema per version (`/api/schema/` is v1,
`/api/schema/?version=v2` is v2)."""

from __future__ import annotations

from typing import Any

from rest_framework.versioning import BaseVersioning, NamespaceVersioning

V1 = "v1"
V2 = "v2"
VERSIONS = (V1, V2)
_BY_NAMESPACE = {"api": V1, "api-v2": V2}


class ApiVersioning(NamespaceVersioning):
    default_version = V1
    allowed_versions = VERSIONS

    def determine_version(self, request: Any, *args: Any, **kwargs: Any) -> str:
        match = getattr(request, "resolver_match", None)
        for namespace in match.namespace.split(":") if match is not None and match.namespace else []:
            if namespace in _BY_NAMESPACE:
                return _BY_NAMESPACE[namespace]
        # Outside the API's URLs (the schema view): `?version=v2` picks the schema's version.
        asked = getattr(request, "query_params", {}).get("version")
        return asked if asked in VERSIONS else V1

    # Names keep their `api:` prefix (Django picks the instance from the request's namespace), so DRF's
    # rewriting of `name` into `<version>:name` is switched off.
    reverse = BaseVersioning.reverse
