"""The apply page's located place over HTTP: Chinese names for China incl. 香港/澳门/台湾, a clear answer abroad."""
from __future__ import annotations

import pytest

JSON = {"Accept": "application/json"}


def locate(client, lat, lon):
    return client.get(f"/travel-id/locate?lat={lat}&lon={lon}", headers=JSON)


@pytest.mark.parametrize("lat, lon, label", [
    (22.28, 114.16, "香港特别行政区"), (22.19, 113.54, "澳门特别行政区"), (25.03, 121.56, "台湾省"),
])
def test_hong_kong_macao_and_taiwan_are_named_as_china_and_refused_as_outside_the_mainland_service(
        client, lat, lon, label):
    resp = locate(client, lat, lon)
    body = resp.get_json()
    assert resp.status_code == 400 and body["code"] == "outside_service_area"
    assert f"您当前所在地（{label}）暂未开通此服务" in body["message"]
    assert "中国境内（不含港澳台地区）" in body["message"] and "境外" not in body["message"]


@pytest.mark.parametrize("lat, lon, answer", [
    (21.0285, 105.8542, "您当前所在地不在服务范围内（仅限中国境内）。"),  # Hanoi
    (37.5665, 126.9780, "您当前所在地不在服务范围内（仅限中国境内）。"),  # Seoul
    (28.0, 125.0, "您当前所在地不在服务范围内（海上）。"),  # East China Sea, beyond the territorial sea
])
def test_abroad_and_at_sea_get_a_clear_chinese_answer(client, lat, lon, answer):
    resp = locate(client, lat, lon)
    assert resp.status_code == 400 and resp.get_json()["message"].startswith(answer)


def test_a_service_area_of_short_city_names_matches_the_full_names(app, client):
    app.config["SUISHEN_TRAVEL_ID_CITIES"] = "广州,深圳"
    assert locate(client, 23.13, 113.26).get_json() == {"ok": True, "city": "广东省广州市"}
    assert locate(client, 22.54, 114.06).get_json() == {"ok": True, "city": "广东省深圳市"}
    refused = locate(client, 32.39, 119.41)  # 扬州: named in full, not half English
    assert refused.status_code == 400 and "（江苏省扬州市）暂未开通此服务，目前仅在广州、深圳提供" in refused.get_json()["message"]


def test_a_service_area_written_with_full_names_matches_too(app, client):
    app.config["SUISHEN_TRAVEL_ID_CITIES"] = "广州市,恩施土家族苗族自治州"
    assert locate(client, 23.13, 113.26).get_json() == {"ok": True, "city": "广东省广州市"}
    assert locate(client, 30.27, 109.49).get_json() == {"ok": True, "city": "湖北省恩施土家族苗族自治州"}
    refused = locate(client, 22.54, 114.06)
    assert refused.status_code == 400 and "目前仅在广州、恩施提供" in refused.get_json()["message"]
