"""The desk's sidebar, built from what each domain registers (settings.UNFOLD["SIDEBAR"]["navigation"] calls
`health_f0.desk.site.sidebar_navigation`, which calls `build`).

Each domain declares its group in `<app>/desk/nav.py`:

    register_group("appointments", 30, build_group)        # build_group(request) -> group dict or None

and may add items to another domain's group (the outbox in the desk's "Hệ thống" group):

    register_items("system", 10, build_items)              # build_items(request) -> list of item dicts

Groups come in `order`, contributed items after the group's own, in their `order`. The desk app imports its
own `health_f0.desk.nav` and every installed app's `desk.nav` once (DeskConfig.ready, with Django's
`autodiscover_modules`), so neither this module nor the desk app names a domain. The helpers below
(`item`, `can_view`, `can_add`, `has_role`, `url`, `exact_page`) are what a group needs: an item the user may
not open is hidden by its `permission`; an item whose page is not registered (no URL) is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

Group = dict[str, Any]
Item = dict[str, Any]
Permission = Callable[[HttpRequest], bool]
GroupBuilder = Callable[[HttpRequest], Group | None]
ItemsBuilder = Callable[[HttpRequest], Iterable[Item]]


@dataclass(frozen=True)
class _Entry:
    order: int
    builder: Callable[[HttpRequest], Any]


_groups: dict[str, _Entry] = {}
_items: dict[str, dict[tuple[int, str], _Entry]] = {}


def register_group(key: str, order: int, builder: GroupBuilder) -> None:
    """Declare (or replace) the sidebar group `key`, placed by `order` (smaller first)."""
    _groups[key] = _Entry(order, builder)


def register_items(group: str, order: int, builder: ItemsBuilder) -> None:
    """Add items to the group `group` (registered by another module), after its own, by `order`."""
    _items.setdefault(group, {})[(order, getattr(builder, "__qualname__", repr(builder)))] = _Entry(
        order, builder
    )


def registered_groups() -> list[str]:
    return [key for key, _ in sorted(_groups.items(), key=lambda pair: pair[1].order)]


def build(request: HttpRequest) -> list[Group]:
    """The sidebar for this request: every registered group (a builder answering None is left out), with
    the items contributed to it; items without a link (a page not registered) are dropped."""
    groups: list[Group] = []
    for key, entry in sorted(_groups.items(), key=lambda pair: pair[1].order):
        group = entry.builder(request)
        if group is None:
            continue
        items = list(group.get("items", []))
        for _, extra in sorted(_items.get(key, {}).items(), key=lambda pair: pair[0]):
            items.extend(extra.builder(request))
        group["items"] = [entry for entry in items if entry["link"]]
        groups.append(group)
    return groups


# --- Helpers for the groups -----------------------------------------------------------------------


def item(title: Any, icon: str, link: str, permission: Permission, **extra: Any) -> Item:
    return {"title": title, "icon": icon, "link": link, "permission": permission, **extra}


def url(name: str, query: str = "") -> str:
    """The desk page's address (`admin:<name>`) plus `query`; "" when the page is not registered."""
    try:
        return reverse(f"admin:{name}") + query
    except NoReverseMatch:  # a model not registered (yet): no link
        return ""


def _model_admin(model_label: str) -> Any:
    from django.apps import apps

    from health_f0.desk.site import desk_site

    return desk_site._registry.get(apps.get_model(model_label))


def can_view(model_label: str) -> Permission:
    """Whether the user may open the model's list (its desk page's own view permission)."""

    def check(request: HttpRequest) -> bool:
        model_admin = _model_admin(model_label)
        return bool(model_admin and model_admin.has_view_permission(request))

    return check


def can_add(model_label: str) -> Permission:
    def check(request: HttpRequest) -> bool:
        model_admin = _model_admin(model_label)
        return bool(model_admin and model_admin.has_add_permission(request))

    return check


def has_role(roles: frozenset[str]) -> Permission:
    """Whether the user holds one of `roles` somewhere (the page checks access itself)."""

    def check(request: HttpRequest) -> bool:
        from health_f0.desk.site import has_any_role

        return has_any_role(request.user, roles)

    return check


def exact_page(name: str, *, prefix_of: tuple[str, ...] = ()) -> Permission:
    """Active on this page (and its sub-pages) but not on the sibling pages hung under the same URL."""

    def check(request: HttpRequest) -> bool:
        base = url(name)
        others = tuple(url(other) for other in prefix_of)
        return bool(base) and request.path.startswith(base) and not request.path.startswith(others)

    return check
