"""Place names: every prefecture-level seat of China, the borders with Hong Kong and Macao, the sea, abroad.

The seats and the names expected there come from a source independent of the boundaries (tests/unit/geo_seats.py
says which and how). No Flask app: webapp.geo is plain Python; its boundaries load once per test process.
"""
from __future__ import annotations

import re

import pytest

from tests.unit.geo_seats import SEATS
from webapp import geo
from webapp.travel_id import rules


def test_every_prefecture_seat_is_named_as_the_national_standard_names_it():
    wrong = [(code, label, lat, lon, geo.locate(lat, lon)) for code, label, lat, lon in SEATS
             if geo.locate(lat, lon).label != label]
    assert wrong == []
    for code, _label, lat, lon in SEATS:  # the code too, where the unit is below province level
        place = geo.locate(lat, lon)
        assert place.code == (code[:2] + "0000" if place.code.endswith("0000") else code)


def test_the_table_covers_every_province_level_division_and_all_prefectures():
    codes = {code for code, *_ in SEATS}
    assert {code[:2] for code in codes} == set(geo.PROVINCES)  # 31 mainland + 香港, 澳门, 台湾
    province_is_unit = ("11", "12", "31", "50", "71", "81", "82")  # municipalities, SARs, 台湾省
    prefecture_level = {c for c in codes if c[2:4] != "90" and c[:2] not in province_is_unit}
    assert len(prefecture_level) == 333  # 293 地级市 + 7 地区 + 30 自治州 + 3 盟 (2024–2025)


def test_every_division_the_app_can_name_is_in_the_table_and_no_name_is_latin_or_abroad():
    expected = {label for _, label, *_ in SEATS}
    units = geo._atlas().places
    labels = {place.label for place in units}
    # The boundaries know seven more county-level 兵团 cities, which the seat source has no seat for.
    assert labels - expected == {f"新疆维吾尔自治区{n}市" for n in ("昆玉", "白杨", "北屯", "可克达拉", "双河", "新星", "胡杨河")}
    assert expected <= labels
    for label in labels | {geo.OUTSIDE_LABEL, geo.AT_SEA_LABEL}:
        assert not re.search(r"[A-Za-z]", label) and "境外" not in label


@pytest.mark.parametrize("where, lat, lon, label", [
    # 罗湖: the two stations face each other across the Shenzhen River (each ~230 m from the border).
    ("罗湖站（深圳）", 22.5333, 114.1131, "广东省深圳市"),
    ("罗湖站（港铁东铁线）", 22.5281, 114.1133, "香港特别行政区"),
    ("落马洲站", 22.5145, 114.0655, "香港特别行政区"),
    ("沙头角（深圳一侧）", 22.5475, 114.2270, "广东省深圳市"),
    ("上水", 22.5015, 114.1280, "香港特别行政区"),
    # 拱北口岸 and 关闸 (Portas do Cerco) ~140 m either side of the border; 氹仔 across the water.
    ("拱北口岸", 22.2167, 113.5497, "广东省珠海市"),
    ("关闸", 22.2142, 113.5500, "澳门特别行政区"),
    ("氹仔", 22.1560, 113.5560, "澳门特别行政区"),
    ("珠海香洲", 22.2700, 113.5600, "广东省珠海市"),
    ("台北", 25.0330, 121.5654, "台湾省"),
    ("高雄", 22.6273, 120.3014, "台湾省"),
    # GB/T 2260 counts 金门县 under 泉州市 (350527), and the national boundaries follow it.
    ("金门", 24.4325, 118.3178, "福建省泉州市"),
    ("永兴岛（三沙市驻地）", 16.8340, 112.3380, "海南省三沙市"),
])
def test_border_and_island_points(where, lat, lon, label):
    assert geo.locate(lat, lon).label == label, where


@pytest.mark.parametrize("where, lat, lon, label", [
    # Within the 12-nautical-mile territorial sea: the nearest division (a harbour, a ferry, a fix off a beach).
    ("维多利亚港（天星小轮航线）", 22.2930, 114.1700, "香港特别行政区"),
    ("深圳湾海面", 22.4900, 113.9700, "广东省深圳市"),
    ("鼓浪屿与厦门岛之间", 24.4470, 118.0670, "福建省厦门市"),
    ("舟山外海 6 km", 30.0000, 122.1000, "浙江省舟山市"),
    # Beyond it: at sea, whoever's waters they are.
    ("渤海中部", 38.5000, 120.0000, geo.AT_SEA_LABEL),
    ("东海", 28.0000, 125.0000, geo.AT_SEA_LABEL),
    ("太平洋", 20.0000, 135.0000, geo.AT_SEA_LABEL),
])
def test_sea_points(where, lat, lon, label):
    assert geo.locate(lat, lon).label == label, where


@pytest.mark.parametrize("where, lat, lon", [
    ("Hanoi", 21.0285, 105.8542), ("Seoul", 37.5665, 126.9780), ("Ulaanbaatar", 47.9185, 106.9177),
    ("Paris", 48.8566, 2.3522), ("Tokyo", 35.6762, 139.6503), ("Moscow", 55.7558, 37.6173),
    # Towns across a border river are a few hundred metres from a Chinese polygon, and abroad.
    ("Blagoveshchensk (黑河对岸)", 50.2667, 127.5333), ("Lao Cai (河口对岸)", 22.4856, 103.9707),
    ("Sinuiju (丹东对岸)", 40.1006, 124.3983), ("Mong Cai (东兴对岸)", 21.5248, 107.9660),
    ("Almaty", 43.2220, 76.8512), ("Kathmandu", 27.7172, 85.3240),
])
def test_points_abroad_are_outside_the_service(where, lat, lon):
    place = geo.locate(lat, lon)
    assert place == geo.OUTSIDE and place.label == "不在服务范围内（仅限中国境内）", where
    assert (place.in_china, place.country_code, place.city) == (False, "", "")


def test_a_point_in_a_gansu_reserve_is_named_after_a_division_of_gansu():
    # 中农发山丹马场 is a polygon of its own in the boundaries but no division; it touches Qinghai too.
    place = geo.locate(38.07, 101.20)
    assert place.province == "甘肃省" and place.prefecture in ("张掖市", "金昌市")


def test_the_service_area_setting_matches_the_short_names():
    gz, sz, bj = geo.locate(23.13, 113.26), geo.locate(22.54, 114.06), geo.locate(39.90, 116.40)
    assert (gz.label, gz.city, sz.label, sz.city, bj.label, bj.city) == \
        ("广东省广州市", "广州", "广东省深圳市", "深圳", "北京市", "北京", )
    cities = frozenset({"广州", "深圳"})
    assert rules.in_service_area(gz.city, gz.country_code, cities)
    assert rules.in_service_area(sz.city, sz.country_code, cities)
    assert not rules.in_service_area(bj.city, bj.country_code, cities)
    assert rules.in_service_area(bj.city, bj.country_code, frozenset())


def test_hong_kong_macao_and_taiwan_are_china_but_the_mainland_railway_service_is_not_offered_there():
    for lat, lon, label, iso in ((22.28, 114.16, "香港特别行政区", "HK"), (22.19, 113.54, "澳门特别行政区", "MO"),
                                 (25.03, 121.56, "台湾省", "TW")):
        place = geo.locate(lat, lon)
        assert (place.label, place.in_china, place.country_code) == (label, True, iso)
        assert not rules.in_service_area(place.city, place.country_code, frozenset())


@pytest.mark.parametrize("name, short", [
    ("广州市", "广州"), ("北京市", "北京"), ("香港特别行政区", "香港"), ("台湾省", "台湾"),
    ("恩施土家族苗族自治州", "恩施"), ("延边朝鲜族自治州", "延边"), ("海西蒙古族藏族自治州", "海西"),
    ("伊犁哈萨克自治州", "伊犁"), ("克孜勒苏柯尔克孜自治州", "克孜勒苏"), ("大理白族自治州", "大理"),
    ("湘西土家族苗族自治州", "湘西"), ("阿克苏地区", "阿克苏"), ("兴安盟", "兴安"), ("神农架林区", "神农架"),
    ("保亭黎族苗族自治县", "保亭"), ("临高县", "临高"), ("儋州市", "儋州"),
])
def test_short_names(name, short):
    assert geo.short_name(name) == short
