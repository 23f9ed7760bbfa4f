"""Subject-specific sections of resource pages: a country's visit, leader and focal areas; a person's
visits; a tour's itinerary timeline and route map; an issue's broader/narrower concepts and visits.

Each section comes from one bounded internal SELECT (``Store.select``); the IRIs put into the query text
come from the data and are checked by :func:`tourkg.describe.is_safe_iri` first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from rdflib import URIRef

from tourkg.describe import Index, Link, ResourceView, Section, Value, is_safe_iri, link_to
from tourkg.iris import IriMap
from tourkg.namespaces import SCHEMA, SKOS, ontology_namespace
from tourkg.store import PAGE_VALUES, Store

TITLES = {
    "visit": {"en": "Visit", "es": "Visita"},
    "leader": {"en": "Leader met", "es": "Líder con quien se reunió"},
    "focal": {"en": "Focal areas", "es": "Áreas de enfoque"},
    "capital": {"en": "Capital", "es": "Capital"},
    "attended": {"en": "Visits attended", "es": "Visitas a las que asistió"},
    "broader": {"en": "Broader concepts", "es": "Conceptos más generales"},
    "narrower": {"en": "Narrower concepts", "es": "Conceptos más específicos"},
    "related": {"en": "Related concepts", "es": "Conceptos relacionados"},
    "about": {"en": "Visits and tours about it", "es": "Visitas y giras sobre el tema"},
}


@dataclass(frozen=True)
class Stop:
    """One visit of a tour's itinerary."""

    position: int
    visit: Link
    country: Link | None
    start: str | None
    end: str | None
    leader: Link | None


@dataclass(frozen=True)
class MapPoint:
    """A capital on the route map, already projected to SVG coordinates."""

    number: int
    x: float
    y: float
    label: str
    href: str
    label_x: float = 0.0
    label_y: float = 0.0
    label_left: bool = False  # the label ends at label_x (text-anchor: end)


#: Where a label may sit relative to its stop, in order of preference: (dx, dy, left of the stop?).
_LABEL_SPOTS = ((22, -14, False), (-22, -14, True), (22, 36, False), (-22, 36, True))
#: Approximate size of a label in SVG units (24 px bold text) and of a stop, for collision checks.
_CHAR_WIDTH, _LABEL_HEIGHT, _STOP_RADIUS = 14.0, 24.0, 16.0


def _label_box(x: float, y: float, text: str, left: bool) -> tuple[float, float, float, float]:
    width = len(text) * _CHAR_WIDTH
    x0 = x - width if left else x
    return (x0, y - _LABEL_HEIGHT * 0.8, x0 + width, y + _LABEL_HEIGHT * 0.2)


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(points: list[MapPoint], width: int, height: int) -> tuple[MapPoint, ...]:
    """Put each label where it stays inside the map and covers the fewest stops and earlier labels
    (greedy, in itinerary order), so that neighbouring capitals stay readable."""
    taken = [(p.x - _STOP_RADIUS, p.y - _STOP_RADIUS, p.x + _STOP_RADIUS, p.y + _STOP_RADIUS) for p in points]
    placed = []
    for point in points:
        boxes = [_label_box(point.x + dx, point.y + dy, point.label, left) for dx, dy, left in _LABEL_SPOTS]
        costs = [(b[0] < 0 or b[2] > width or b[1] < 0 or b[3] > height,
                  sum(_overlap(b, other) for other in taken), i) for i, b in enumerate(boxes)]
        best = min(costs)[2]
        dx, dy, left = _LABEL_SPOTS[best]
        taken.append(boxes[best])
        placed.append(replace(point, label_x=point.x + dx, label_y=point.y + dy, label_left=left))
    return tuple(placed)


@dataclass(frozen=True)
class RouteMap:
    """A small equirectangular SVG map of a tour's route (no tiles: points and a line)."""

    width: int
    height: int
    points: tuple[MapPoint, ...]

    @property
    def polyline(self) -> str:
        """The ``points`` attribute of the route's ``<polyline>``."""
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


class _Context:
    """What every section builder needs: the store, the IRI map, the language, and bounded queries."""

    def __init__(self, store: Store, iris: IriMap, lang: str) -> None:
        self.store, self.iris, self.lang = store, iris, lang
        self.prologue = (f"PREFIX tko: <{ontology_namespace(iris.base)}>\nPREFIX schema: <{SCHEMA}>\n"
                         f"PREFIX skos: <{SKOS}>\n")

    def links(self, terms: list[object]) -> list[Link]:
        """Links to ``terms`` with their labels, read in one look-up."""
        iris = [str(t) for t in terms]
        index = Index(self.store.labels([i for i in iris if is_safe_iri(i)]).quads())
        return [link_to(iri, index.label(URIRef(iri), self.lang), self.iris) for iri in iris]

    def link(self, term: object) -> Link:
        return self.links([term])[0]

    def rows(self, body: str) -> list[dict]:
        return self.store.select(self.prologue + body)

    def bounded(self, variable: str, where: str, order: str = "") -> tuple[list[dict], int]:
        """The first :data:`PAGE_VALUES` solutions of ``where`` (distinct ``?variable``, with the other
        variables of the pattern), and how many distinct values there are in all."""
        rows = self.rows(f"SELECT * WHERE {{ {where} }} ORDER BY {order} ?{variable} LIMIT {PAGE_VALUES * 4}")
        kept: dict[str, dict] = {}
        for row in rows:
            if variable in row and str(row[variable]) not in kept and len(kept) < PAGE_VALUES:
                kept[str(row[variable])] = row
        total = len(kept)
        if len(rows) >= PAGE_VALUES * 4 or len(kept) == PAGE_VALUES:
            counted = self.rows(f"SELECT (COUNT(DISTINCT ?{variable}) AS ?n) WHERE {{ {where} }}")
            total = int(counted[0]["n"]) if counted else total
        return list(kept.values()), total

    def title(self, key: str) -> str:
        return TITLES[key].get(self.lang, TITLES[key]["en"])

    def section(self, key: str, terms: list[object], notes: dict[str, str] | None = None,
                total: int | None = None, more: str | None = None) -> Section | None:
        unique = list(dict.fromkeys(str(t) for t in terms))
        items = tuple(Value(link.text, link, note=(notes or {}).get(link.iri)) for link in self.links(unique))
        if not items:
            return None
        cut = total is not None and total > len(items)
        return Section(self.title(key), items, total if cut else None, more if cut else None)

    def query_href(self, variable: str, where: str) -> str:
        """The query page listing every value (where no property list fits, e.g. two steps away)."""
        text = f"{self.prologue}SELECT DISTINCT ?{variable} WHERE {{ {where} }} ORDER BY ?{variable}"
        return "/sparql?" + urlencode({"query": text})


def _country(ctx: _Context, iri: str, view: ResourceView) -> None:
    where = f"?v tko:visitedCountry <{iri}> OPTIONAL {{ ?v schema:startDate ?start }}"
    visits, total = ctx.bounded("v", where)
    dates = {str(r["v"]): str(r["start"]) for r in visits if "start" in r}
    visits_more = ctx.iris.list_path(iri, f"{ontology_namespace(ctx.iris.base)}visitedCountry", incoming=True)
    leader_where = f"?v tko:visitedCountry <{iri}> ; tko:hostLeader ?leader"
    leaders, leader_total = ctx.bounded("leader", leader_where)
    focal_where = f"?v tko:visitedCountry <{iri}> ; tko:focalArea ?focal"
    focal, focal_total = ctx.bounded("focal", focal_where)
    capital = ctx.rows(f"SELECT ?c WHERE {{ <{iri}> tko:capital ?c }} LIMIT {PAGE_VALUES}")
    for section in (ctx.section("visit", [r["v"] for r in visits], dates, total, visits_more),
                    ctx.section("leader", [r["leader"] for r in leaders], None, leader_total,
                                ctx.query_href("leader", leader_where)),
                    ctx.section("focal", [r["focal"] for r in focal], None, focal_total,
                                ctx.query_href("focal", focal_where)),
                    ctx.section("capital", [r["c"] for r in capital])):
        if section:
            view.sections.append(section)


def _person(ctx: _Context, iri: str, view: ResourceView) -> None:
    where = f"?v schema:attendee <{iri}> ; a tko:Visit . OPTIONAL {{ ?v schema:startDate ?start }}"
    rows, total = ctx.bounded("v", where, order="?start")
    section = ctx.section("attended", [r["v"] for r in rows],
                          {str(r["v"]): str(r["start"]) for r in rows if "start" in r}, total,
                          ctx.iris.list_path(iri, str(SCHEMA.attendee), incoming=True))
    if section:
        view.sections.append(section)


def _issue(ctx: _Context, iri: str, view: ResourceView) -> None:
    for key, forward, backward in (("broader", "skos:broader", "skos:narrower"),
                                   ("narrower", "skos:narrower", "skos:broader"),
                                   ("related", "skos:related", "skos:related")):
        where = f"{{ <{iri}> {forward} ?c }} UNION {{ ?c {backward} <{iri}> }}"
        rows, total = ctx.bounded("c", where)
        section = ctx.section(key, [r["c"] for r in rows], None, total, ctx.query_href("c", where))
        if section:
            view.sections.append(section)
    # The issue is bound through VALUES: with the IRI inside the path, Oxigraph 0.5 joined every
    # schema:Event first (2.6 s for one issue of the 1M dataset, 12 ms this way).
    where = (f"VALUES ?issue {{ <{iri}> }} ?v schema:about|tko:focalArea|tko:concernTopic|tko:theme ?issue ; "
             "a schema:Event . OPTIONAL { ?v tko:itineraryPosition ?n }")
    rows, total = ctx.bounded("v", where, order="?n")
    section = ctx.section("about", [r["v"] for r in rows], None, total, ctx.query_href("v", where))
    if section:
        view.sections.append(section)


_ITINERARY = """SELECT ?v ?pos ?c ?start ?end ?leader ?lat ?lon WHERE {{
  <{iri}> schema:subEvent ?v .
  OPTIONAL {{ ?v tko:itineraryPosition ?pos }}
  OPTIONAL {{ ?v schema:startDate ?start }} OPTIONAL {{ ?v schema:endDate ?end }}
  OPTIONAL {{ ?v tko:hostLeader ?leader }}
  OPTIONAL {{ ?v tko:visitedCountry ?c
             OPTIONAL {{ ?c tko:capital ?cap . ?cap schema:latitude ?lat ; schema:longitude ?lon }} }}
}} ORDER BY ?pos ?start ?v ?leader LIMIT {limit}"""


def _tour(ctx: _Context, iri: str, view: ResourceView) -> None:
    rows = ctx.rows(_ITINERARY.format(iri=iri, limit=PAGE_VALUES * 4))
    firsts: dict[str, dict] = {}
    for row in rows:
        if str(row["v"]) not in firsts and len(firsts) < PAGE_VALUES:
            firsts[str(row["v"])] = row
    terms = [t for row in firsts.values() for t in (row["v"], row.get("c"), row.get("leader")) if t]
    named = ctx.links(terms)
    link = {item.iri: item for item in named}
    stops, coordinates = [], []
    for number, (visit, row) in enumerate(firsts.items(), start=1):
        country = link[str(row["c"])] if "c" in row else None
        stops.append(Stop(number, link[visit], country, _text(row, "start"), _text(row, "end"),
                          link[str(row["leader"])] if "leader" in row else None))
        if country and "lat" in row and "lon" in row:
            coordinates.append((float(row["lat"]), float(row["lon"]), country))
    view.extra["timeline"] = tuple(stops)
    if len(coordinates) >= 2:
        view.extra["route_map"] = project(coordinates)


def _text(row: dict, key: str) -> str | None:
    return str(row[key]) if key in row else None


def project(places: list[tuple[float, float, Link]], width: int = 640, margin: int = 70) -> RouteMap:
    """Project (latitude, longitude) to SVG coordinates (equirectangular, scaled by cos(mean latitude))."""
    lats, lons = [p[0] for p in places], [p[1] for p in places]
    squash = math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(lons) - min(lons)) * squash, 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = (width - 2 * margin) / max(span_x, span_y)
    height = int(span_y * scale + 2 * margin)
    offset_x = (width - span_x * scale) / 2
    points = [MapPoint(i, offset_x + (lon - min(lons)) * squash * scale, margin + (max(lats) - lat) * scale,
                       link.text, link.href) for i, (lat, lon, link) in enumerate(places, start=1)]
    return RouteMap(width, height, place_labels(points, width, height))


_BUILDERS: dict[str, Callable[[_Context, str, ResourceView], None]] = {
    "Country": _country, "Person": _person, "Concept": _issue, "Tour": _tour,
}


def add_extras(store: Store, iris: IriMap, view: ResourceView) -> ResourceView:
    """Add the sections that fit the resource's types (matched on the types' local names)."""
    if not is_safe_iri(view.iri):
        return view
    ctx = _Context(store, iris, view.lang)
    kinds = {t.iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1] for t in view.types}
    for kind, build in _BUILDERS.items():
        if kind in kinds:
            build(ctx, view.iri, view)
    return view
