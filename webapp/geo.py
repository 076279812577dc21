"""Offline reverse geocoding (reverse-geocode's GeoNames table, no network call) with Chinese city names."""
from __future__ import annotations

import functools
from dataclasses import dataclass

# Prefecture-level names as GeoNames spells them → the names people read in the app. Cities missing here
# are shown as GeoNames spells them; add them as the service area grows.
CITY_ZH = {
    "Beijing": "北京", "Tianjin": "天津", "Shijiazhuang": "石家庄", "Changchun": "长春", "Daqing": "大庆",
    "Shanghai": "上海", "Wuxi": "无锡", "Suzhou": "苏州", "Yancheng": "盐城", "Taizhou": "泰州",
    "Ningbo": "宁波", "Jiaxing": "嘉兴", "Nanchang": "南昌", "Jinan": "济南", "Qingdao": "青岛",
    "Changsha": "长沙", "Guangzhou": "广州", "Shenzhen": "深圳", "Nanning": "南宁", "Chongqing": "重庆",
    "Chengdu": "成都", "Mianyang": "绵阳", "Zigong": "自贡", "Nanchong": "南充", "Guiyang": "贵阳",
    "Kunming": "昆明", "Xi'an": "西安", "Yinchuan": "银川", "Hangzhou": "杭州", "Nanjing": "南京",
    "Wuhan": "武汉", "Zhengzhou": "郑州", "Hefei": "合肥", "Fuzhou": "福州", "Xiamen": "厦门",
    "Harbin": "哈尔滨", "Shenyang": "沈阳", "Dalian": "大连", "Taiyuan": "太原", "Hohhot": "呼和浩特",
    "Lanzhou": "兰州", "Xining": "西宁", "Urumqi": "乌鲁木齐", "Lhasa": "拉萨", "Haikou": "海口",
    "Sanya": "三亚", "Dongguan": "东莞", "Foshan": "佛山", "Zhuhai": "珠海", "Wenzhou": "温州",
    "Xuzhou": "徐州", "Changzhou": "常州", "Nantong": "南通", "Yantai": "烟台", "Tangshan": "唐山",
    "Baoding": "保定", "Luoyang": "洛阳", "Guilin": "桂林", "Zhongshan": "中山", "Huizhou": "惠州",
}
PROVINCE_ZH = {
    "Beijing": "北京市", "Tianjin": "天津市", "Shanghai": "上海市", "Chongqing": "重庆市", "Hebei": "河北省",
    "Shanxi": "山西省", "Inner Mongolia": "内蒙古自治区", "Liaoning": "辽宁省", "Jilin": "吉林省",
    "Heilongjiang": "黑龙江省", "Jiangsu": "江苏省", "Zhejiang": "浙江省", "Anhui": "安徽省", "Fujian": "福建省",
    "Jiangxi": "江西省", "Shandong": "山东省", "Henan": "河南省", "Hubei": "湖北省", "Hunan": "湖南省",
    "Guangdong": "广东省", "Guangxi": "广西壮族自治区", "Hainan": "海南省", "Sichuan": "四川省",
    "Guizhou": "贵州省", "Yunnan": "云南省", "Tibet": "西藏自治区", "Shaanxi": "陕西省", "Gansu": "甘肃省",
    "Qinghai": "青海省", "Ningxia": "宁夏回族自治区", "Xinjiang": "新疆维吾尔自治区",
}

_ZH_CITIES = frozenset(CITY_ZH.values())


@dataclass(frozen=True)
class Place:
    country_code: str
    province: str
    city: str

    @property
    def label(self) -> str:
        if self.country_code != "CN":
            return f"{self.city}（中国境外）"
        city = f"{self.city}市" if self.city in _ZH_CITIES else self.city
        return city if self.province.startswith(self.city) else f"{self.province}{city}"


class BadCoordinates(ValueError):
    pass


def parse_coordinates(lat: str | float | None, lon: str | float | None) -> tuple[float, float]:
    try:
        la, lo = float(lat), float(lon)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadCoordinates("未获取到定位") from None
    if not (-90 <= la <= 90 and -180 <= lo <= 180) or la != la or lo != lo:
        raise BadCoordinates("定位坐标无效")
    return la, lo


@functools.cache
def _geocoder():
    import reverse_geocode  # loads its table once (~0.7 s) per process

    return reverse_geocode


def locate(lat: float, lon: float) -> Place:
    hit = _geocoder().get((lat, lon))
    prefecture = (hit.get("county") or hit.get("city") or "").removesuffix(" Shi").strip()
    if prefecture not in CITY_ZH and hit.get("city") in CITY_ZH:
        prefecture = hit["city"]
    city = CITY_ZH.get(prefecture, prefecture)
    province = PROVINCE_ZH.get(hit.get("state", ""), hit.get("state", ""))
    return Place(country_code=hit.get("country_code", ""), province=province, city=city)
