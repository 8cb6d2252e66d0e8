"""Plausible Chinese names, phone numbers, enterprise names and hazard titles (vectorised, seeded)."""

from __future__ import annotations

import numpy as np


def _words(text: str) -> tuple[str, ...]:
    """Split a space-separated word list."""
    return tuple(text.split(" "))


# The most common surnames with rough weights (per mille of the population).
SURNAMES = (
    ("王", 72), ("李", 72), ("张", 68), ("刘", 54), ("陈", 45), ("杨", 31), ("赵", 20), ("黄", 19), ("周", 18),
    ("吴", 16), ("徐", 13), ("孙", 12), ("胡", 11), ("朱", 11), ("高", 10), ("林", 9), ("何", 9), ("郭", 12),
    ("马", 9), ("罗", 6), ("梁", 6), ("宋", 6), ("郑", 6), ("谢", 5), ("韩", 5), ("唐", 5), ("冯", 5), ("于", 5),
    ("董", 5), ("萧", 2), ("程", 4), ("曹", 4), ("袁", 4), ("邓", 4), ("许", 4), ("傅", 3), ("沈", 3), ("曾", 3),
    ("彭", 3), ("吕", 3), ("苏", 3), ("卢", 3), ("蒋", 3), ("蔡", 3), ("贾", 4), ("丁", 3), ("魏", 4), ("薛", 3),
    ("叶", 3), ("阎", 3), ("余", 3), ("潘", 3), ("杜", 3), ("戴", 2), ("夏", 2), ("钟", 2), ("汪", 2), ("田", 3),
    ("任", 3), ("姜", 2), ("范", 3), ("方", 2), ("石", 2), ("姚", 2), ("谭", 2), ("廖", 2), ("邹", 2), ("熊", 2),
    ("金", 2), ("陆", 2), ("郝", 2), ("孔", 2), ("白", 2), ("崔", 2), ("康", 2), ("毛", 2), ("邱", 2), ("秦", 2),
    ("江", 2), ("史", 2), ("顾", 2), ("侯", 2), ("邵", 2), ("孟", 2), ("龙", 2), ("万", 2), ("段", 2), ("雷", 2),
    ("钱", 2), ("汤", 2), ("尹", 2), ("黎", 2), ("易", 2), ("常", 2), ("武", 2), ("乔", 2), ("贺", 2), ("赖", 2),
    ("牛", 2), ("付", 2), ("申", 1), ("闫", 2), ("樊", 1), ("耿", 1), ("楚", 1), ("娄", 1), ("司马", 1),
)
GIVEN = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰文辉鹏飞宇浩然欣怡子涵梓萱俊凯"
    "新民海燕春梅晓东亚楠佳琪雪峰振华德胜永福喜荣金宝淑珍凤琴丹阳晨光建军卫东利民少华红梅保国"
)
PHONE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156", "157",
    "158", "159", "180", "181", "182", "183", "185", "186", "187", "188", "189",
)
BRANDS = _words(
    "恒泰 鑫源 宏达 瑞丰 永盛 华通 金利 中原 豫发 天成 广源 博远 兴隆 嘉禾 万通 昌盛 汇丰 众诚 宏图 德润 "
    "佳美 聚力 腾达 新港 东方 银河 春晖 三元 正大 福瑞 隆基 诚信 明阳 安泰 同创 龙腾 盛世 长兴 丰华 远航 "
    "金诺 泰和 九州 润泽 华夏 伟业 立达 天翼 民生 和顺 瑞祥 卓越 光大 信达 宝丰 荣昌 中鼎 盛源 凯旋 亿嘉"
)
INDUSTRY_WORDS: dict[str, tuple[str, ...]] = {
    "危险化学品": ("化工", "精细化工", "化学试剂", "气体", "石化"),
    "非煤矿山": ("矿业", "石料", "建材矿产"),
    "烟花爆竹": ("烟花爆竹", "花炮"),
    "冶金": ("钢铁", "铸造", "金属制品"),
    "有色": ("铝业", "有色金属", "铜材"),
    "建材": ("建材", "水泥制品", "新型墙材", "陶瓷"),
    "机械": ("机械", "机电设备", "汽车配件", "电器", "重工"),
    "轻工": ("食品", "家具", "发制品", "包装", "塑业", "纸业"),
    "纺织": ("纺织", "服饰", "棉业"),
    "烟草": ("烟草物流",),
    "商贸": ("商贸", "超市", "物资", "百货", "商业管理"),
    "建筑施工": ("建筑工程", "建设", "路桥工程", "装饰工程"),
    "交通运输": ("物流", "运输", "客运"),
    "城镇燃气": ("燃气", "天然气"),
    "民用爆炸物品": ("民爆器材",),
    "其他": ("科技", "服务", "实业"),
}
ROADS = _words(
    "建安大道 许继大道 魏文路 八一路 七一路 文峰路 莲城大道 学院路 永昌大道 新兴路 劳动路 光明路 "
    "东城大道 瑞祥路 长兴路 中原路 颍河路 钧州大道 禹王大道 葛天大道 人民路 解放路 工业路 滨河路 "
    "育才路"
)
HAZARD_TITLES: dict[str, tuple[str, ...]] = {
    "电气安全": ("配电箱未接地", "电线私拉乱接", "漏电保护器失效", "配电室无绝缘垫", "防爆电气不防爆"),
    "消防安全": ("消防通道堵塞", "灭火器过期", "消防栓无水", "安全出口锁闭", "疏散指示标志损坏"),
    "特种设备": ("压力表超期未检", "叉车司机无证上岗", "起重机限位失灵", "锅炉安全阀未校验"),
    "危化品管理": ("危化品混存", "储罐区可燃气体报警器失效", "未设置防火堤", "危化品台账不全"),
    "作业场所": ("有限空间作业未审批", "动火作业无监护", "高处作业未系安全带", "粉尘未及时清扫"),
    "安全管理": ("安全培训记录缺失", "应急预案未演练", "隐患排查制度未落实", "安全管理人员未持证"),
    "设备设施": ("机械防护罩缺失", "传动部位无防护", "设备带病运行", "检修未挂牌上锁"),
}


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` plausible Chinese personal names."""
    surnames = np.array([s for s, _ in SURNAMES])
    weights = np.array([w for _, w in SURNAMES], dtype=float)
    sur = rng.choice(surnames, size=n, p=weights / weights.sum())
    given = np.array(GIVEN)
    first = rng.choice(given, size=n)
    second = rng.choice(given, size=n)
    two = rng.random(n) < 0.75
    return np.char.add(np.char.add(sur, first), np.where(two, second, ""))


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` mobile numbers (13x/15x/18x) as strings."""
    prefix = rng.choice(np.array(PHONE_PREFIXES), size=n)
    rest = rng.integers(0, 100_000_000, size=n)
    return np.char.add(prefix, np.char.zfill(rest.astype(str), 8))


def enterprise_names(rng: np.random.Generator, industries: np.ndarray, places: np.ndarray) -> np.ndarray:
    """Names like 许昌恒泰机械有限公司 (``places`` is the city or county-level city name stem)."""
    n = len(industries)
    brands = rng.choice(np.array(BRANDS), size=n)
    words = np.empty(n, dtype=object)
    pick = rng.random(n)
    for industry, options in INDUSTRY_WORDS.items():
        mask = industries == industry
        idx = (pick[mask] * len(options)).astype(int)
        words[mask] = np.array(options, dtype=object)[idx]
    forms = rng.choice(np.array(["有限公司", "有限责任公司", "股份有限公司", "有限公司"]), size=n)
    return np.char.add(np.char.add(np.char.add(places.astype(str), brands), words.astype(str)), forms)
