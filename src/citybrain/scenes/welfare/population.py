"""A synthetic population of Nanchang for the welfare scene's departments: households in the
city's real villages and communities (``sdk.data.nanchang()``, 国家统计局 2023 统计用区划代码), their
members, and what each department holds about them: the civil-affairs register and 授权书, insured
wages, unemployment registrations, medical settlements, disability certificates, real estate,
vehicles, businesses, housing-fund accounts and disaster reports (the datasets of
``data/welfare/datasets.toml``).

Seeded and deterministic: the same (households, seed, as_of) gives the same rows, byte for byte.
Built for a million households: the people themselves (a few numbers each) are drawn at once with
numpy; every dataset is then generated chunk by chunk (``CHUNK`` households at a time, each
chunk's draws seeded by (seed, dataset, chunk), so any chunk can be made alone) and handed out as
Arrow record batches, never as Python objects per row. Columns are the dataset's column names, typed
by their declared type: text, id_number and area as strings, int as int32, float as float64 (yuan,
rounded to the fen), date as date32.

Dates are relative to ``as_of`` (the day the data describes): wages cover the 24 months that end
with as_of's month (so the 365 days before as_of hold 12 of them, the 365 before those the other
12, unless as_of is a month's first day); bills, registrations and disasters the 730 days before.

Scripted shocks (``illness``, ``job_loss``, ``flood``) return the new rows a department would deliver
and keep them, so a later ``rows()`` includes them (a job loss also stops the person's wages from
its date on). ``pick_household``/``pick_village`` find where a shock visibly raises a risk.

The distributions are stated where they are drawn, each with its source, or marked *guess*.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from citybrain import data as package_data
from citybrain.sdk.data import Dataset, load_datasets, nanchang

CHUNK = 20_000  # households generated together (about 56,000 people; ~500,000 wage rows)
EPOCH = date(1970, 1, 1)
STATUSES = ("一般户", "脱贫户", "监测对象", "低保户", "特困户")
GENERAL, LIFTED, MONITORED, DIBAO, TEKUN = range(5)
RELATIONS = ("户主", "配偶", "子女", "父母", "孙子女", "兄弟姐妹", "其他")
LABOUR = ("有劳动能力", "弱劳动能力", "无劳动能力")
MONTHS = 24  # months of wages kept (the rules read the last 12 and the 12 before)
DAYS = 730  # bills, registrations and disasters: the last two years

# -- where people live -----------------------------------------------------------------------------
# 常住人口 of each district and county, the weight of its villages. Sources: 南昌县 1,452,502 (第七次
# 全国人口普查, repost http://code.python88.com/l/B2UEFXtBPV, which also says 青山湖区 is above a
# million); 安义县 252,591 (七普, repost http://psic.org.cn/sjrk/10100.html); 进贤县 ≈ 620,000
# (repost http://www1.bzrgr.com/gjyby/7198.html). The others are guesses that make the city's
# total 6,255,007 (七普, repost http://hbzqbyyxgs.com/top/418625.html) roughly.
COUNTY_PEOPLE = {
    "360102": 480_000,  # 东湖区 (guess)
    "360103": 600_000,  # 西湖区 (guess)
    "360104": 380_000,  # 青云谱区 (guess)
    "360111": 1_050_000,  # 青山湖区 (above a million: source above; the figure a guess)
    "360112": 810_000,  # 新建区 (guess)
    "360113": 560_000,  # 红谷滩区 (guess)
    "360121": 1_452_502,  # 南昌县
    "360123": 252_591,  # 安义县
    "360124": 620_000,  # 进贤县
}
COUNTIES_RURAL = ("360121", "360123", "360124")  # the three counties (the rest are districts)
COMMUNITY_WEIGHT = 3.0  # a 社区居委会 holds about three times a 村委会's households (guess)
# villages and communities: in 统计用区划代码 a village's last three digits are 0xx for a 居民委员会
# (a community) and 2xx for a 村民委员会 (a rural village); a village whose tenth digit is 2 is rural

# -- households --------------------------------------------------------------------------------------
# Household sizes 1..7 (7 standing for "6+"). Nanchang's 2020 mean is 2.81 people per family household
# (七普, repost above; Jiangxi 2.94, http://district.ce.cn/zg/202105/31/t20210531_36604545.shtml); the
# shares are guesses shaped like the national census (about a quarter one-person households), urban
# households smaller (mean 2.65) than rural ones (3.03).
SIZE_SHARES = {
    False: (0.22, 0.30, 0.24, 0.13, 0.07, 0.03, 0.01),  # urban
    True: (0.18, 0.26, 0.20, 0.17, 0.11, 0.06, 0.02),  # rural
}
# The households' make-up by size (guesses): the members' relations to the head (H 户主, S 配偶,
# C 子女, P 父母, G 孙子女, B 兄弟姐妹, O 其他: a child's spouse), the head's age range, and the weight of
# the template among the households of its size, urban and rural (rural: more old people alone,
# more three generations).
TEMPLATES: tuple[tuple[str, int, int, float, float], ...] = (
    ("H", 20, 40, 0.50, 0.30),  # a young single
    ("H", 60, 92, 0.50, 0.70),  # an old person alone
    ("HS", 24, 88, 0.70, 0.70),
    ("HC", 38, 85, 0.18, 0.20),
    ("HP", 24, 55, 0.07, 0.05),
    ("HB", 24, 70, 0.05, 0.05),
    ("HSC", 26, 60, 0.80, 0.70),
    ("HCC", 34, 60, 0.08, 0.08),
    ("HSP", 26, 58, 0.07, 0.07),
    ("HCG", 50, 85, 0.05, 0.15),
    ("HSCC", 30, 55, 0.55, 0.45),
    ("HSCP", 28, 55, 0.25, 0.25),
    ("HSCG", 48, 78, 0.20, 0.30),
    ("HSCCP", 30, 55, 0.35, 0.30),
    ("HSCOG", 48, 75, 0.45, 0.50),
    ("HSCCC", 32, 52, 0.20, 0.20),
    ("HSCOGG", 50, 75, 0.60, 0.65),
    ("HSCCPP", 30, 50, 0.40, 0.35),
    ("HSCOGGP", 48, 62, 1.00, 1.00),
)
_REL_CODE = {"H": 0, "S": 1, "C": 2, "P": 3, "G": 4, "B": 5, "O": 6}
# a member's age from the head's: head + sign * (a gap drawn in [lo, hi]), at least ``least`` (guesses)
AGE_GAPS = {  # relation: (sign, lo, hi, least)
    "S": (+1, -6, 3, 18),
    "C": (-1, 22, 36, 0),
    "P": (+1, 22, 32, 40),
    "G": (-1, 44, 62, 0),
    "B": (+1, -8, 8, 16),
    "O": (-1, 20, 34, 18),
}
# 户主 registered as men (guess: registers name the husband mostly), the others: chosen so that men
# are about 53 % of all, as in Nanchang (52.35 %, 七普, repost above)
HEAD_MALE, MALE = 0.72, 0.50

# 帮扶身份 shares (guesses in the ranges of issue 15: 低保 ~2 %, 特困 ~0.3 %, 监测对象 ~0.5 %, 脱贫户 a
# few percent of the counties' rural households), by where the household lives:
# (脱贫户, 监测对象, 低保户) for a rural village of a county, a rural village of a district, a community.
STATUS_SHARES = {
    "county_village": (0.040, 0.015, 0.035),
    "district_village": (0.015, 0.008, 0.030),
    "community": (0.0, 0.002, 0.015),
}
# 特困 (no income, no ability to work, no one bound to support them): among one-person households of
# someone 60 or older or with a grade 1-2 disability, this share (guess, giving ~0.3 % overall)
TEKUN_SHARE = {True: 0.045, False: 0.02}  # rural, urban

# -- people --------------------------------------------------------------------------------------------
# Surnames and their weights (guesses: the national order of 公安部《2020年全国姓名报告》 with the
# surnames common in Jiangxi, 熊 万 涂 邹 喻 龚 饶, weighted up).
SURNAMES = (
    ("刘", 7.0),
    ("李", 6.8),
    ("王", 6.2),
    ("张", 5.6),
    ("陈", 5.4),
    ("黄", 3.6),
    ("胡", 3.2),
    ("吴", 2.9),
    ("罗", 2.6),
    ("徐", 2.5),
    ("万", 2.4),
    ("熊", 2.3),
    ("周", 2.2),
    ("邓", 2.0),
    ("彭", 1.9),
    ("杨", 1.9),
    ("龚", 1.4),
    ("涂", 1.4),
    ("邹", 1.4),
    ("喻", 1.2),
    ("赵", 1.2),
    ("朱", 1.2),
    ("魏", 1.1),
    ("肖", 1.1),
    ("曾", 1.1),
    ("何", 1.0),
    ("郭", 1.0),
    ("饶", 0.9),
    ("程", 0.9),
    ("余", 0.9),
    ("付", 0.8),
    ("江", 0.8),
    ("谢", 0.8),
    ("钟", 0.7),
    ("雷", 0.7),
    ("舒", 0.7),
    ("闵", 0.5),
    ("晏", 0.5),
    ("章", 0.5),
    ("甘", 0.5),
)
GIVEN_MALE = (
    "伟强磊军勇杰涛明超斌华平辉刚健俊峰文波鹏浩宇洋林建国春海志龙鑫晨博子睿轩航凯宏荣金水根福发生德良兵"
)
GIVEN_FEMALE = "芳娜敏静丽秀英霞燕艳玲红梅琴兰萍婷雪慧娟莉倩颖欣怡佳雨彤梓涵诗思琳悦玉珍凤桂莲花云芬"
TWO_CHAR_NAME = 0.85  # given names of two characters (guess)
# Disability: 6.34 % of people (第二次全国残疾人抽样调查 2006, from memory: UNVERIFIED), rising with
# age (guess): the probability by age band [0, 18), [18, 45), [45, 60), [60, 70), [70, ...)
DISABILITY_BY_AGE = ((0, 0.02), (18, 0.04), (45, 0.065), (60, 0.11), (70, 0.19))
DISABILITY_GRADES = (0.12, 0.18, 0.30, 0.40)  # grades 1..4, 1 the most severe (guess)
# the kinds, with the 2006 survey's shares (from memory: UNVERIFIED)
DISABILITY_KINDS = (
    ("视力", 14.9),
    ("听力", 24.2),
    ("言语", 1.5),
    ("肢体", 29.1),
    ("智力", 6.7),
    ("精神", 7.4),
    ("多重", 16.3),
)
# 劳动能力 by age band (guesses): shares of (有, 弱, 无); children under 16 are not assessed (empty);
# a grade 1-2 disability makes it 无, a grade 3 one 弱
LABOUR_BY_AGE = (
    (16, (0.95, 0.04, 0.01)),
    (60, (0.50, 0.40, 0.10)),
    (70, (0.10, 0.45, 0.45)),
    (80, (0.0, 0.30, 0.70)),
)

# -- work and wages ------------------------------------------------------------------------------------
# Who has insured wages (社保缴费工资): people 18-59 able to work, by (urban, rural) and status
# (guesses: many rural people farm or work uninsured, and have none).
EMPLOYED = {
    GENERAL: (0.62, 0.30),
    LIFTED: (0.30, 0.25),
    MONITORED: (0.30, 0.22),
    DIBAO: (0.10, 0.08),
    TEKUN: (0.0, 0.0),
}
WEAK_EMPLOYED = 0.4  # the share of that for someone of weak labour ability (guess)
# monthly insured wage: lognormal, median by (urban, rural) times a factor by status, sigma 0.45,
# floor 2,000 (about Jiangxi's minimum wage, UNVERIFIED) and cap 30,000 (guesses)
WAGE_MEDIAN = (5200.0, 3800.0)
WAGE_STATUS = {GENERAL: 1.0, LIFTED: 0.8, MONITORED: 0.8, DIBAO: 0.7, TEKUN: 0.7}
WAGE_SIGMA, WAGE_FLOOR, WAGE_CAP = 0.45, 2000.0, 30000.0
WAGE_RAISE = 0.04  # the insured base of the last 12 months over the 12 before (guess)
FULL_SPAN = 0.70  # earners insured all 24 months; the others for a span within them (guess)
# unemployment registrations: an earner whose insurance stopped registers with this chance; someone
# able to work without insured work at all with the second (guesses)
UNEMPLOYED_AFTER_JOB, UNEMPLOYED_OTHERS, UNEMPLOYMENT_ENDED = 0.35, 0.006, 0.6

# -- medical settlements (医保结算) ---------------------------------------------------------------------
# settlements per person over two years: Poisson, mean 0.8 + 0.04 a year of age above 40 (guess);
# a settlement is an inpatient stay with chance 0.06 + 0.003 a year above 40, a catastrophic one with
# 0.004 + 0.0002 a year above 40, else outpatient. Total cost lognormal (median, sigma), self-pay a
# uniform share of it (guesses: the heavy tail comes from stays and catastrophic illness).
BILLS_BASE, BILLS_AGE = 0.8, 0.04
INPATIENT, CATASTROPHIC = (0.06, 0.003), (0.004, 0.0002)
BILL_COST = {
    "outpatient": (260.0, 0.9, 0.30, 0.70),
    "inpatient": (9000.0, 0.8, 0.20, 0.45),
    "catastrophic": (90000.0, 0.6, 0.25, 0.50),
}  # median, sigma, self-pay share lo, hi
DIAGNOSES = {
    "outpatient": (
        "原发性高血压",
        "2型糖尿病",
        "急性上呼吸道感染",
        "慢性胃炎",
        "腰椎间盘突出症",
        "急性支气管炎",
        "高脂血症",
        "膝关节骨关节炎",
        "过敏性鼻炎",
        "慢性阻塞性肺疾病",
    ),
    "inpatient": (
        "社区获得性肺炎",
        "脑梗死",
        "冠状动脉粥样硬化性心脏病",
        "股骨颈骨折",
        "胆囊结石伴慢性胆囊炎",
        "急性阑尾炎",
        "慢性心力衰竭",
        "老年性白内障",
        "腰椎压缩性骨折",
        "2型糖尿病伴并发症",
    ),
    "catastrophic": (
        "肺恶性肿瘤",
        "胃恶性肿瘤",
        "肝恶性肿瘤",
        "乳腺恶性肿瘤",
        "慢性肾脏病5期(血液透析)",
        "急性心肌梗死",
        "脑出血",
        "急性白血病",
        "结肠恶性肿瘤",
        "重型颅脑损伤",
    ),
}

# -- assets -------------------------------------------------------------------------------------------
# Dwellings (住宅) a household's head or spouse holds: shares of 0, 1, 2, 3 by kind of household
# (guesses: most urban households own their home; rural homesteads are registered less often; 低保
# and 特困 households passed an asset check: at most one).
KINDS = ("urban", "rural", "aided", "poor")  # aided: 脱贫户 and 监测对象; poor: 低保户 and 特困户
DWELLINGS = {
    "urban": (0.20, 0.60, 0.15, 0.05),
    "rural": (0.45, 0.50, 0.05, 0.0),
    "aided": (0.40, 0.55, 0.05, 0.0),
    "poor": (0.50, 0.50, 0.0, 0.0),
}
# other property: (用途, chance urban, chance rural) for a general household; half for 脱贫/监测, none
# for 低保/特困 (guesses)
OTHER_PROPERTY = (("车位", 0.12, 0.01), ("商业", 0.03, 0.02), ("办公", 0.01, 0.0), ("其他", 0.01, 0.01))
FLOOR_AREA = {
    "住宅": ((95.0, 0.30), (150.0, 0.35)),
    "车位": ((13.0, 0.10), (13.0, 0.10)),
    "商业": ((60.0, 0.70), (60.0, 0.70)),
    "办公": ((100.0, 0.60), (100.0, 0.60)),
    "其他": ((30.0, 0.80), (30.0, 0.80)),
}  # m²: (median, sigma) urban, rural
# cars (小型汽车, 大型汽车 1 in 30 of them) per household: shares of 0, 1, 2; motorcycles; a 残疾人专用车
# for someone with a limb disability (guesses; Nanchang has about one car for every four people)
CARS = {
    "urban": (0.45, 0.43, 0.12),
    "rural": (0.60, 0.33, 0.07),
    "aided": (0.85, 0.15, 0.0),
    "poor": (1.0, 0.0, 0.0),
}
LARGE_CAR, MOTORCYCLE, DISABLED_CAR = 1 / 30, (0.03, 0.15), 0.05
# businesses a member represents (法定代表人/经营者): chance by kind of household, kinds and states
BUSINESS = {"urban": 0.12, "rural": 0.08, "aided": 0.04, "poor": 0.01}  # guesses
BUSINESS_KINDS = {False: (0.72, 0.27, 0.01), True: (0.65, 0.20, 0.15)}  # 个体工商户, 企业, 合作社
BUSINESS_STATES = (0.78, 0.19, 0.03)  # 存续, 注销, 吊销 (guess); 低保/特困: only closed ones
# housing fund: earners with an account (urban, rural), and people 40-75 with an old one (guesses)
FUND = (0.65, 0.20)
FUND_OLD, FUND_CLOSED = 0.12, 0.3
# 授权书 in force: most aided households, ~60 % of the others (issue 15); some expired ones besides
AUTHORISED = {GENERAL: 0.60, LIFTED: 0.92, MONITORED: 0.95, DIBAO: 0.95, TEKUN: 0.90}
EXPIRED_TOO = 0.15
AUTH_YEARS = (0.4, 0.3, 0.3)  # valid 1, 2 or 3 years
# disasters over two years: the chance a household reported one, rural and urban, kinds, losses (guesses)
DISASTER = (0.001, 0.006)
DISASTER_KINDS = (("洪涝", 0.60), ("风雹", 0.15), ("火灾", 0.10), ("地质灾害", 0.05), ("其他", 0.10))
DISASTER_LOSS = (8000.0, 1.0)
FLOOD_LOSS = (30000.0, 0.5)  # a scripted flood's losses (guess)
# phones: 中国移动/联通/电信 number blocks; bank cards: illustrative 6-digit prefixes (Luhn-checked)
PHONE_PREFIXES = (
    130,
    131,
    132,
    133,
    134,
    135,
    136,
    137,
    138,
    139,
    150,
    151,
    152,
    153,
    155,
    156,
    157,
    158,
    159,
    166,
    173,
    177,
    180,
    181,
    182,
    185,
    186,
    187,
    188,
    189,
    198,
    199,
)
BANK_PREFIXES = (621700, 622848, 621226, 622188, 621661, 623058)
NO_PHONE = 0.05

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", np.uint8)  # GB 11643: check character by (weighted sum) % 11
_CODE_CHARS = np.frombuffer(b"0123456789ABCDEFGHJKLMNPQRTUWXY", np.uint8)  # GB 32100 统一社会信用代码
_CODE_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], np.int64)
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], np.int64)  # GB 11714 组织机构代码
_PLATE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # letters and digits on plates (no I, O)
ARROW_TYPES = {
    "text": pa.string(),
    "id_number": pa.string(),
    "area": pa.string(),
    "int": pa.int32(),
    "float": pa.float64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}
_STREAMS = (
    "base",
    "jobs",
    "unemployment",
    "civil.households",
    "civil.members",
    "civil.authorisations",
    "hrss.wages",
    "hrss.unemployment",
    "medical.bills",
    "emergency.disasters",
    "disability.records",
    "estate.properties",
    "police.vehicles",
    "market.businesses",
    "fund.accounts",
    "shock",
)

Shock = Literal["illness", "job_loss"]


def default_datasets() -> dict[str, Dataset]:
    """The welfare scene's datasets as shipped (``data/welfare/datasets.toml``)."""
    return load_datasets(package_data.path("welfare/datasets.toml"))


def _days(d: date) -> int:
    return (d - EPOCH).days


def _date(days: int) -> date:
    return EPOCH + timedelta(days=int(days))


def _ascii(matrix: np.ndarray) -> pa.StringArray:
    """Rows of a (n, width) uint8 matrix of ASCII codes as strings."""
    n, width = matrix.shape
    offsets = np.arange(0, n * width + 1, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(matrix)))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """The (n, width) decimal digits of non-negative integers, most significant first."""
    out = np.empty((len(values), width), np.int64)
    v = values.astype(np.int64)
    for i in range(width - 1, -1, -1):
        out[:, i] = v % 10
        v = v // 10
    return out


def _text(values: np.ndarray, width: int) -> pa.StringArray:
    """Integers as zero-padded decimal text of ``width`` digits."""
    return _ascii((_digits(values, width) + 48).astype(np.uint8))


def id_numbers(region: np.ndarray, born_days: np.ndarray, seq: np.ndarray) -> pa.StringArray:
    """Resident ID numbers (GB 11643): the 6-digit region, the birth date, the 3-digit sequence
    (odd for men) and the ISO 7064 MOD 11-2 check character."""
    first17 = _digits((region.astype(np.int64) * 10**8 + _ymd(born_days)) * 1000 + seq, 17)
    check = _ID_CHECK[(first17 @ _ID_WEIGHTS) % 11]
    return _ascii(np.column_stack([(first17 + 48).astype(np.uint8), check]))


def credit_codes(kind: np.ndarray, region: np.ndarray, serial: np.ndarray) -> pa.StringArray:
    """统一社会信用代码 (GB 32100-2015): 9 (market regulation), the kind (1 企业, 2 个体工商户, 3 农民专业
    合作社), the 6-digit region, an organisation code (8 digits and its GB 11714 check) and the check
    character (mod 31)."""
    body = _digits(serial, 8)
    org = 11 - (body @ _ORG_WEIGHTS) % 11  # 10 -> X (the 30th character of the code's), 11 -> 0
    org_value = np.where(org == 11, 0, np.where(org == 10, 29, org))
    values = np.column_stack([np.full(len(kind), 9), kind, _digits(region, 6), body, org_value])
    check = (31 - (values @ _CODE_WEIGHTS) % 31) % 31
    return _ascii(_CODE_CHARS[np.column_stack([values, check])])


def _luhn(first: np.ndarray) -> np.ndarray:
    """The Luhn check digit of each row of digits."""
    d = first[:, ::-1].copy()
    d[:, 0::2] *= 2
    d[:, 0::2] -= np.where(d[:, 0::2] > 9, 9, 0)
    return np.asarray((10 - d.sum(axis=1) % 10) % 10)


def _ymd(days: np.ndarray) -> np.ndarray:
    """Days since 1970 as YYYYMMDD integers."""
    d = np.asarray(days, dtype="datetime64[D]")
    months = d.astype("datetime64[M]")
    years = months.astype("datetime64[Y]").astype(np.int64) + 1970
    return np.asarray(
        years * 10_000 + (months.astype(np.int64) % 12 + 1) * 100 + (d - months).astype(np.int64) + 1
    )


def timestamp_text(seconds: np.ndarray) -> pa.StringArray:
    """Seconds since 1970 as "YYYY-MM-DD HH:MM:SS" text."""
    out = np.empty((len(seconds), 19), np.uint8)
    out[:, [4, 7]], out[:, 10], out[:, [13, 16]] = ord("-"), ord(" "), ord(":")
    ymd, day = _ymd(seconds // 86400), seconds % 86400
    for at, width, values in (
        (0, 4, ymd // 10_000),
        (5, 2, ymd // 100 % 100),
        (8, 2, ymd % 100),
        (11, 2, day // 3600),
        (14, 2, day // 60 % 60),
        (17, 2, day % 60),
    ):
        v = values.copy()
        for i in range(at + width - 1, at - 1, -1):
            out[:, i] = v % 10 + 48
            v //= 10
    return _ascii(out)


def _arrow(values: Any, typ: pa.DataType) -> pa.Array:
    """Values (an Arrow array, a numpy array, a list; dates as days since 1970) as an array of ``typ``."""
    if isinstance(values, pa.Array):
        return values if values.type == typ else pc.cast(values, typ)
    if typ == pa.date32():
        return pa.array(np.asarray(values).astype(np.int32), typ)
    return pc.cast(pa.array(values), typ)


def _join(*parts: Any) -> pa.Array:
    """Element-wise concatenation of string arrays and literals; a null part counts as empty."""
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def _pick(rng: np.random.Generator, shares: Any, size: int) -> np.ndarray:
    p = np.asarray(shares, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def _lognormal(rng: np.random.Generator, median: Any, sigma: float, size: int) -> np.ndarray:
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(size))


@dataclass(frozen=True)
class Member:
    id_number: str
    name: str
    relation: str
    sex: str  # 男 / 女
    born: date
    labour: str | None  # None: under 16, not assessed
    disability: int  # 0: none, else the grade 1..4


@dataclass(frozen=True)
class Household:
    id: str
    village: str
    address: str
    status: str
    rural: bool
    members: list[Member]


@dataclass
class _Chunk:
    """Households [h0, h1) and their people [p0, p1)."""

    c: int
    h0: int
    h1: int
    p0: int
    p1: int


class _Villages:
    """The city's villages and communities with the weight of each (where households are drawn)."""

    def __init__(self) -> None:
        div = nanchang()
        villages = sorted((d for d in div.by_code.values() if d.level == "village"), key=lambda d: d.code)
        self.codes = [v.code for v in villages]
        self.index = {code: i for i, code in enumerate(self.codes)}
        self.rural = np.array([v.code[9] == "2" for v in villages])
        self.county = np.array([int(v.code[:6]) for v in villages], np.int64)
        self.county_rural = np.array([v.code[:6] in COUNTIES_RURAL for v in villages])
        # the real-estate registry a village's properties are registered with: the county's own, and
        # the city's (南昌市) for the districts; its index per village
        counties = sorted({v.code[:6] for v in villages})
        self.registry = pa.array([div.by_code[c].name if c in COUNTIES_RURAL else "南昌市" for c in counties])
        self.county_index = np.array([counties.index(v.code[:6]) for v in villages])
        self.township_names = pa.array([div.by_code[v.parent].name for v in villages])
        self.stems = pa.array([_stem(v.name) for v in villages])
        weight = np.where(self.rural, 1.0, COMMUNITY_WEIGHT)
        share = np.zeros(len(villages))
        for county, people in COUNTY_PEOPLE.items():
            mine = np.array([c.startswith(county) for c in self.codes])
            if mine.any():
                share[mine] = people * weight[mine] / weight[mine].sum()
        self.p = share / share.sum()


def _stem(name: str) -> str:
    """A village's name as an address writes it: 斗门村委会 -> 斗门村, 民巷社区居委会 -> 民巷社区."""
    for suffix, keep in (
        ("村民委员会", "村"),
        ("村委会", "村"),
        ("社区居委会", "社区"),
        ("居民委员会", "社区"),
        ("居委会", "社区"),
        ("家委会", "家属区"),
        ("委员会", ""),
    ):
        if name.endswith(suffix):
            return name[: -len(suffix)] + keep
    return name


class Population:
    """``households`` households of Nanchang, seeded by ``seed``, as of ``as_of``; their datasets
    by ``rows(name)`` (see the module's notes)."""

    def __init__(
        self, households: int, seed: int, as_of: date, datasets: dict[str, Dataset] | None = None
    ) -> None:
        if households < 1:
            raise ValueError("a population needs at least one household")
        self.households, self.seed, self.as_of = households, seed, as_of
        self.datasets = datasets if datasets is not None else default_datasets()
        self.today = _days(as_of)
        first = np.datetime64(as_of, "M") - MONTHS  # the 24 whole months before as_of's
        self.months = (first + np.arange(MONTHS)).astype("datetime64[D]").astype(np.int64)  # oldest first
        self.since_12m = int(self.months[MONTHS - 12])  # the first day of the last 12 months
        self.villages = _Villages()
        self._extra: dict[str, list[pa.RecordBatch]] = {}
        self._stopped: dict[int, int] = {}  # person -> the first month index without wages (a job loss)
        self._shocks = 0
        self._shocked: set[int] = set()  # households a shock hit
        self._addresses: tuple[int, pa.Array] = (-1, pa.array([], pa.string()))
        self._build()

    # -- the people ----------------------------------------------------------------------------------
    def _rng(self, stream: str, chunk: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, _STREAMS.index(stream), chunk])

    def _build(self) -> None:
        """The people: households placed in villages, their members (relations, ages, sexes, names,
        disabilities, labour ability), each household's status and each person's ID sequence."""
        rng = self._rng("base")
        template = self._place(rng)
        self._ages_and_sexes(rng, template)
        self._names(rng)
        self._health(rng)
        self._statuses(rng)
        self._sequences(rng)

    def _place(self, rng: np.random.Generator) -> np.ndarray:
        """Households in villages (sorted by village, numbered in it), their sizes and make-up
        (the TEMPLATES index, returned), and the members' relations."""
        v, n = self.villages, self.households
        self.village = np.sort(rng.choice(len(v.codes), size=n, p=v.p)).astype(np.int32)
        self.rural = v.rural[self.village]
        self.village_start = np.searchsorted(self.village, np.arange(len(v.codes) + 1))
        self.serial = (
            np.arange(n) - self.village_start[self.village] + 1
        )  # 5 digits of the household's number
        if self.serial.max() >= 100_000:
            raise ValueError("over 99,999 households in one village: too many households for this list")
        size = np.empty(n, np.int64)
        for rural in (False, True):
            mine = self.rural == rural
            size[mine] = _pick(rng, SIZE_SHARES[rural], int(mine.sum())) + 1
        template = np.empty(n, np.int64)
        for s in range(1, 8):
            ids = [i for i, t in enumerate(TEMPLATES) if len(t[0]) == s]
            for rural in (False, True):
                mine = (size == s) & (self.rural == rural)
                weights = [TEMPLATES[i][4 if rural else 3] for i in ids]
                template[mine] = np.array(ids)[_pick(rng, weights, int(mine.sum()))]
        self.size = size
        self.offsets = np.concatenate([[0], np.cumsum(size)])
        self.hh = np.repeat(np.arange(n), size)  # each person's household
        pos = np.arange(self.people) - self.offsets[self.hh]
        rel_table = np.full((len(TEMPLATES), max(len(t[0]) for t in TEMPLATES)), -1, np.int8)
        for i, t in enumerate(TEMPLATES):
            rel_table[i, : len(t[0])] = [_REL_CODE[r] for r in t[0]]
        self.relation = rel_table[template[self.hh], pos]
        return template

    def _ages_and_sexes(self, rng: np.random.Generator, template: np.ndarray) -> None:
        """The head's age from the template's range (triangular, its mode at 40 % of the range), the
        others' from the head's by AGE_GAPS; birth dates; sexes (a spouse's the head's opposite)."""
        n, people, hh = self.households, self.people, self.hh
        lo = np.array([t[1] for t in TEMPLATES])[template]
        hi = np.array([t[2] for t in TEMPLATES])[template]
        ha = (lo + rng.triangular(0, 0.4, 1, n) * (hi - lo))[hh]
        age = ha.copy()
        u = rng.random(people)
        for rel, (sign, glo, ghi, least) in AGE_GAPS.items():
            mine = self.relation == _REL_CODE[rel]
            top = np.maximum(np.minimum(ghi, ha[mine] - least) if sign < 0 else ghi, glo)
            age[mine] = np.maximum(ha[mine] + sign * (glo + u[mine] * (top - glo)), least)
        age = np.clip(age, 0, 99.9)
        days = (np.floor(age) * 365.2425).astype(np.int64) + rng.integers(0, 365, people)
        self.born = self.today - 1 - days
        self.age = ((self.today - self.born) / 365.2425).astype(np.int64)
        male = rng.random(people) < MALE
        heads = self.offsets[:-1]
        male[heads] = rng.random(n) < HEAD_MALE
        spouse = self.relation == _REL_CODE["S"]
        male[spouse] = ~male[heads[hh[spouse]]]
        self.male = male

    def _names(self, rng: np.random.Generator) -> None:
        """The family's surname for the head, children, grandchildren, siblings and the father, an
        own one for the others; one or two given characters by sex."""
        n, people, male = self.households, self.people, self.male
        weights = [w for _, w in SURNAMES]
        family = _pick(rng, weights, n)[self.hh]
        own = _pick(rng, weights, people)
        inherits = np.isin(self.relation, [0, 2, 4, 5]) | ((self.relation == 3) & male)
        self.surname = np.where(inherits, family, own).astype(np.int16)
        given = [
            np.where(
                male,
                rng.integers(0, len(GIVEN_MALE), people),
                len(GIVEN_MALE) + rng.integers(0, len(GIVEN_FEMALE), people),
            )
            for _ in range(2)
        ]
        self.given = np.column_stack([given[0], np.where(rng.random(people) < TWO_CHAR_NAME, given[1], -1)])

    def _health(self, rng: np.random.Generator) -> None:
        """Disabilities (grade 0: none) and labour ability (-1: under 16, not assessed)."""
        people = self.people
        chance = np.zeros(people)
        for least, p in DISABILITY_BY_AGE:
            chance[self.age >= least] = p
        disabled = rng.random(people) < chance
        self.grade = np.where(disabled, _pick(rng, DISABILITY_GRADES, people) + 1, 0).astype(np.int8)
        self.disability_kind = _pick(rng, [w for _, w in DISABILITY_KINDS], people).astype(np.int8)
        labour = np.full(people, -1, np.int8)
        for least, shares in LABOUR_BY_AGE:
            mine = self.age >= least
            labour[mine] = _pick(rng, shares, int(mine.sum()))
        labour[(self.grade == 3) & (labour == 0)] = 1
        labour[(self.grade >= 1) & (self.grade <= 2) & (labour >= 0)] = 2
        self.labour = labour

    def _statuses(self, rng: np.random.Generator) -> None:
        """帮扶身份 by STATUS_SHARES; 特困 among the one-person households TEKUN_SHARE describes."""
        v, n, heads = self.villages, self.households, self.offsets[:-1]
        where = np.where(self.rural & v.county_rural[self.village], 0, np.where(self.rural, 1, 2))
        table = np.array([STATUS_SHARES[k] for k in ("county_village", "district_village", "community")])
        cum = np.cumsum(table[where], axis=1)  # thresholds of 脱贫户, 监测对象, 低保户
        draw = rng.random(n)[:, None]
        status = np.where(draw[:, 0] < cum[:, 2], 1 + (draw >= cum).sum(axis=1), GENERAL)
        severe = (self.grade[heads] >= 1) & (self.grade[heads] <= 2)
        alone = (self.size == 1) & ((self.age[heads] >= 60) | severe)
        tekun = alone & (rng.random(n) < np.where(self.rural, TEKUN_SHARE[True], TEKUN_SHARE[False]))
        self.status = np.where(tekun, TEKUN, status).astype(np.int8)

    def _sequences(self, rng: np.random.Generator) -> None:
        """Each person's ID region (the county of the village) and sequence, unique: people sharing a
        county, a birth date and a sex take consecutive numbers from a random start (495 of them,
        010..999, odd for men)."""
        people = self.people
        self.region = self.villages.county[self.village][self.hh]
        key = (self.region * 100_000 + self.born) * 2 + self.male
        order = np.argsort(key, kind="stable")
        ks = key[order]
        new = np.concatenate([[True], ks[1:] != ks[:-1]])
        start_at = np.maximum.accumulate(np.where(new, np.arange(people), 0))
        rank = np.arange(people) - start_at
        if people and rank.max() >= 495:
            raise ValueError("too many people share a county, a birth date and a sex for unique ID numbers")
        slot = np.empty(people, np.int64)
        slot[order] = 5 + (rng.integers(0, 495, people)[order][start_at] + rank) % 495
        self.seq = slot * 2 + self.male

    @property
    def people(self) -> int:
        return int(self.offsets[-1])

    @property
    def chunks(self) -> int:
        return -(-self.households // CHUNK)

    def _chunk(self, c: int) -> _Chunk:
        h0, h1 = c * CHUNK, min(self.households, (c + 1) * CHUNK)
        return _Chunk(c, h0, h1, int(self.offsets[h0]), int(self.offsets[h1]))

    # -- names and numbers of a chunk ---------------------------------------------------------------
    def household_ids(self, h: np.ndarray) -> pa.Array:
        codes = pa.array(self.villages.codes)
        return _join(pc.take(codes, pa.array(self.village[h])), _text(self.serial[h], 5))

    def person_ids(self, p: np.ndarray) -> pa.Array:
        return id_numbers(self.region[p], self.born[p], self.seq[p])

    def names(self, p: np.ndarray) -> pa.Array:
        surnames = pa.array([s for s, _ in SURNAMES])
        chars = pa.array(list(GIVEN_MALE + GIVEN_FEMALE))
        second = self.given[p, 1]
        return _join(
            pc.take(surnames, pa.array(self.surname[p])),
            pc.take(chars, pa.array(self.given[p, 0])),
            pc.take(chars, pa.array(np.where(second < 0, 0, second), mask=second < 0)),
        )

    def _county_text(self, p: np.ndarray) -> pa.Array:
        return _text(self.region[p], 6)

    def _date_text(self, days: np.ndarray) -> pa.Array:
        return _text(_ymd(days), 8)

    # -- datasets ------------------------------------------------------------------------------------
    def headers(self, dataset: str) -> dict[str, str]:
        """The dataset's column names -> their source headers (a file's or a table's column names)."""
        return {c.name: c.header for c in self.datasets[dataset].columns}

    def rows(self, dataset: str) -> Iterator[pa.RecordBatch]:
        """The dataset's rows, a record batch per chunk of households (then the rows shocks added)."""
        ds = self.datasets[dataset]
        build = self._builders().get(dataset)
        if build is None:
            raise KeyError(f"the population does not make dataset {dataset!r}")
        for c in range(self.chunks):
            yield self._batch(ds, build(self._chunk(c)))
        yield from self._extra.get(dataset, [])

    def count(self, dataset: str) -> int:
        return sum(b.num_rows for b in self.rows(dataset))

    def _batch(self, ds: Dataset, columns: dict[str, Any]) -> pa.RecordBatch:
        n = len(next(iter(columns.values())))
        arrays = []
        for col in ds.columns:
            if col.name in columns:
                arrays.append(_arrow(columns[col.name], ARROW_TYPES[col.type]))
            elif col.required or col.name in ds.key:
                raise KeyError(f"dataset {ds.name}: the population does not make the column {col.name!r}")
            else:
                arrays.append(pa.nulls(n, ARROW_TYPES[col.type]))
        return pa.RecordBatch.from_arrays(arrays, names=[c.name for c in ds.columns])

    def _builders(self) -> dict[str, Callable[[_Chunk], dict[str, Any]]]:
        return {
            "civil.households": self._households,
            "civil.members": self._members,
            "civil.authorisations": self._authorisations,
            "hrss.wages": self._wages,
            "hrss.unemployment": self._unemployment,
            "medical.bills": self._bills,
            "emergency.disasters": self._disasters,
            "disability.records": self._disability,
            "estate.properties": self._properties,
            "police.vehicles": self._vehicles,
            "market.businesses": self._businesses,
            "fund.accounts": self._fund,
        }

    def _kind(self, h: np.ndarray) -> np.ndarray:
        """A household's kind for the asset tables: its index in KINDS."""
        s = self.status[h]
        return np.where(s >= DIBAO, 3, np.where(s >= LIFTED, 2, self.rural[h].astype(np.int64)))

    def _households(self, ch: _Chunk) -> dict[str, Any]:
        rng, v = self._rng("civil.households", ch.c), self.villages
        h = np.arange(ch.h0, ch.h1)
        n, heads = len(h), self.offsets[h]
        vi = pa.array(self.village[h])
        rural = self.rural[h]
        group, number = rng.integers(1, 13, n), rng.integers(1, 80, n)
        building, unit, room = rng.integers(1, 40, n), rng.integers(1, 5, n), rng.integers(1, 26, n)
        rural_tail = _join(
            pc.cast(pa.array(group), pa.string()), "组", pc.cast(pa.array(number), pa.string()), "号"
        )
        urban_tail = _join(
            pc.cast(pa.array(building), pa.string()),
            "栋",
            pc.cast(pa.array(unit), pa.string()),
            "单元",
            pc.cast(pa.array(room // 2 + 1), pa.string()),
            _text(room % 4 + 1, 2),
            "室",
        )
        address = _join(
            pc.take(v.township_names, vi),
            pc.take(v.stems, vi),
            pc.if_else(pa.array(rural), rural_tail, urban_tail),
        )
        phone = np.array(PHONE_PREFIXES)[rng.integers(0, len(PHONE_PREFIXES), n)] * 10**8 + rng.integers(
            0, 10**8, n
        )
        no_phone = rng.random(n) < NO_PHONE
        card = np.column_stack(
            [
                _digits(np.array(BANK_PREFIXES)[rng.integers(0, len(BANK_PREFIXES), n)], 6),
                _digits(rng.integers(0, 10**12, n), 12),
            ]
        )
        card = np.column_stack([card, _luhn(card)])
        return {
            "household": self.household_ids(h),
            "village": pc.take(pa.array(v.codes), vi),
            "head_name": self.names(heads),
            "head_id": self.person_ids(heads),
            "phone": pc.if_else(pa.array(no_phone), pa.scalar(None, pa.string()), _text(phone, 11)),
            "address": address,
            "members": self.size[h],
            "status": pc.take(pa.array(STATUSES), pa.array(self.status[h])),
            "bank_account": _ascii((card + 48).astype(np.uint8)),
        }

    def _members(self, ch: _Chunk) -> dict[str, Any]:
        p = np.arange(ch.p0, ch.p1)
        labour = self.labour[p]
        return {
            "id_number": self.person_ids(p),
            "household": self.household_ids(self.hh[p]),
            "name": self.names(p),
            "relation": pc.take(pa.array(RELATIONS), pa.array(self.relation[p])),
            "labour": pc.take(pa.array(LABOUR), pa.array(np.maximum(labour, 0), mask=labour < 0)),
        }

    def _authorisations(self, ch: _Chunk) -> dict[str, Any]:
        """A 授权书 in force for the share AUTHORISED of households; an expired one for some of
        every kind (signed before, expired before today)."""
        rng = self._rng("civil.authorisations", ch.c)
        h = np.arange(ch.h0, ch.h1)
        n = len(h)
        share = np.array([AUTHORISED[s] for s in range(5)])[self.status[h]]
        current = rng.random(n) < share
        expired = rng.random(n) < np.where(current, EXPIRED_TOO, 0.3)
        years = _pick(rng, AUTH_YEARS, n) + 1
        length = (years * 365.25).astype(np.int64)
        signed_now = self.today - rng.integers(0, length)  # signed within its validity: in force today
        expired_years = _pick(rng, AUTH_YEARS, n) + 1
        expired_length = (expired_years * 365.25).astype(np.int64)
        expires_old = np.minimum(signed_now, self.today) - 1 - rng.integers(0, 400, n)
        rows = [
            (h[current], signed_now[current], signed_now[current] + length[current] - 1, 2),
            (h[expired], expires_old[expired] - expired_length[expired] + 1, expires_old[expired], 1),
        ]
        hs = np.concatenate([r[0] for r in rows])
        order = np.argsort(hs, kind="stable")
        hs = hs[order]
        signed = np.concatenate([r[1] for r in rows])[order]
        expires = np.concatenate([r[2] for r in rows])[order]
        k = np.concatenate([np.full(len(r[0]), r[3]) for r in rows])[order]
        hid = self.household_ids(hs)
        return {
            "paper": _join("SQ", hid, "-", pc.cast(pa.array(k), pa.string())),
            "household": hid,
            "signed": signed,
            "expires": expires,
        }

    def authorised(self, h: np.ndarray) -> np.ndarray:
        """Whether each household (of one chunk) holds a 授权书 in force today."""
        c = int(h[0]) // CHUNK
        got = self._authorisations(self._chunk(c))
        ok = (np.asarray(got["signed"]) <= self.today) & (np.asarray(got["expires"]) >= self.today)
        held = set(got["household"].filter(pa.array(ok)).to_pylist())
        return np.array([x in held for x in self.household_ids(h).to_pylist()])

    # -- work --------------------------------------------------------------------------------------------
    def _jobs(self, ch: _Chunk) -> dict[str, np.ndarray]:
        """Who has insured work, the span of months (first, last index of ``months``) and the wage."""
        rng = self._rng("jobs", ch.c)
        p = np.arange(ch.p0, ch.p1)
        n = len(p)
        status, rural = self.status[self.hh[p]], self.rural[self.hh[p]]
        chance = np.array([EMPLOYED[s] for s in range(5)])[status, rural.astype(int)]
        chance = np.where(self.labour[p] == 1, chance * WEAK_EMPLOYED, chance)
        able = (self.age[p] >= 18) & (self.age[p] <= 59) & (self.labour[p] >= 0) & (self.labour[p] <= 1)
        earner = able & (rng.random(n) < chance)
        full = rng.random(n) < FULL_SPAN
        first = np.where(full, 0, rng.integers(0, MONTHS, n))
        last = np.where(full, MONTHS - 1, first + (rng.random(n) * (MONTHS - first)).astype(np.int64))
        median = (
            np.array(WAGE_MEDIAN)[rural.astype(int)] * np.array([WAGE_STATUS[s] for s in range(5)])[status]
        )
        wage = np.clip(_lognormal(rng, median, WAGE_SIGMA, n), WAGE_FLOOR, WAGE_CAP)
        return {"earner": earner, "first": first, "last": last, "wage": wage}

    def _wages(self, ch: _Chunk) -> dict[str, Any]:
        jobs = self._jobs(ch)
        rng = self._rng("hrss.wages", ch.c)
        local = np.flatnonzero(jobs["earner"])
        spans = jobs["last"][local] - jobs["first"][local] + 1
        who = np.repeat(local, spans)
        month = jobs["first"][who] + np.arange(len(who)) - np.repeat(np.cumsum(spans) - spans, spans)
        keep = np.ones(len(who), bool)
        for person, stop in self._stopped.items():
            if ch.p0 <= person < ch.p1:
                keep &= ~((who == person - ch.p0) & (month >= stop))
        who, month = who[keep], month[keep]
        raise_ = np.where(month >= MONTHS - 12, 1 + WAGE_RAISE, 1.0)
        wage = np.round(jobs["wage"][who] * raise_, 2)
        # recorded 3 to 8 days into its month (when the contribution is collected), never after as_of
        seconds = self.months[month] * 86400 + rng.integers(3 * 86400, 8 * 86400, len(who))
        seconds = np.minimum(seconds, self.today * 86400 - 1)
        ids = pc.take(self.person_ids(np.arange(ch.p0, ch.p1)), pa.array(who))
        return {
            "id_number": ids,
            "month": self.months[month],
            "wage": wage,
            "updated": timestamp_text(seconds),
        }

    def _unemployment_rows(self, ch: _Chunk) -> dict[str, np.ndarray]:
        """Registrations: people whose insured work stopped (after its last month), and a few able
        people without insured work; some ended since."""
        jobs = self._jobs(ch)
        rng = self._rng("unemployment", ch.c)
        p = np.arange(ch.p0, ch.p1)
        n = len(p)
        stopped = jobs["earner"] & (jobs["last"] < MONTHS - 1) & (rng.random(n) < UNEMPLOYED_AFTER_JOB)
        able = (self.age[p] >= 18) & (self.age[p] <= 59) & (self.labour[p] >= 0) & (self.labour[p] <= 1)
        other = able & ~jobs["earner"] & (rng.random(n) < UNEMPLOYED_OTHERS)
        after_job = np.append(self.months[1:], self.today)[np.minimum(jobs["last"], MONTHS - 1)]
        registered = np.where(
            stopped, after_job + rng.integers(0, 28, n), self.today - rng.integers(1, DAYS, n)
        )
        registered = np.minimum(registered, self.today - 1)
        ended = registered + rng.integers(30, 360, n)
        ended = np.where((rng.random(n) < UNEMPLOYMENT_ENDED) & (ended < self.today), ended, -1)
        mine = stopped | other
        return {"person": p[mine], "registered": registered[mine], "ended": ended[mine]}

    def _unemployment(self, ch: _Chunk) -> dict[str, Any]:
        got = self._unemployment_rows(ch)
        ended = got["ended"]
        return {
            "id_number": self.person_ids(got["person"]),
            "registered": got["registered"],
            "ended": pa.array(np.maximum(ended, 0).astype(np.int32), pa.date32(), mask=ended < 0),
        }

    # -- health ------------------------------------------------------------------------------------------
    def _bills(self, ch: _Chunk) -> dict[str, Any]:
        rng = self._rng("medical.bills", ch.c)
        p = np.arange(ch.p0, ch.p1)
        over40 = np.maximum(self.age[p] - 40, 0)
        count = np.minimum(rng.poisson(BILLS_BASE + BILLS_AGE * over40), 99)
        who = np.repeat(np.arange(len(p)), count)
        k = np.arange(len(who)) - np.repeat(np.cumsum(count) - count, count)
        m = len(who)
        u = rng.random(m)
        stay = u < INPATIENT[0] + INPATIENT[1] * over40[who]
        worst = u < CATASTROPHIC[0] + CATASTROPHIC[1] * over40[who]
        kind = np.where(worst, 2, np.where(stay, 1, 0))
        total = np.zeros(m)
        self_pay = np.zeros(m)
        diagnosis = np.empty(m, object)
        for i, name in enumerate(("outpatient", "inpatient", "catastrophic")):
            mine = kind == i
            median, sigma, lo, hi = BILL_COST[name]
            total[mine] = np.minimum(_lognormal(rng, median, sigma, int(mine.sum())), 2_000_000)
            self_pay[mine] = total[mine] * rng.uniform(lo, hi, int(mine.sum()))
            names = DIAGNOSES[name]
            diagnosis[mine] = np.array(names, object)[rng.integers(0, len(names), int(mine.sum()))]
        settled = self.today - rng.integers(1, DAYS + 1, m)
        persons = p[who]
        return {
            "bill": self._bill_ids(persons, settled, k),
            "id_number": pc.take(self.person_ids(p), pa.array(who)),
            "settled": settled,
            "total": np.round(total, 2),
            "self_pay": np.round(self_pay, 2),
            "diagnosis": pa.array(diagnosis, pa.string()),
        }

    def _bill_ids(self, persons: np.ndarray, settled: np.ndarray, k: np.ndarray) -> pa.Array:
        """结算单号: JS, the county, the settlement date, the person's number and the bill's (2 digits)."""
        width = max(8, len(str(self.people)))
        return _join(
            "JS", self._county_text(persons), self._date_text(settled), _text(persons, width), _text(k, 2)
        )

    def _disability(self, ch: _Chunk) -> dict[str, Any]:
        p = np.arange(ch.p0, ch.p1)
        p = p[self.grade[p] > 0]
        return {
            "id_number": self.person_ids(p),
            "grade": self.grade[p],
            "kind": pc.take(pa.array([k for k, _ in DISABILITY_KINDS]), pa.array(self.disability_kind[p])),
        }

    # -- assets ------------------------------------------------------------------------------------------
    def _owner(self, rng: np.random.Generator, h: np.ndarray, spouse_share: float) -> np.ndarray:
        """The head, or the spouse (when there is one) with the given chance."""
        head = self.offsets[h]
        second = np.minimum(head + 1, self.people - 1)
        has_spouse = (self.size[h] > 1) & (self.relation[second] == _REL_CODE["S"])
        return np.asarray(np.where(has_spouse & (rng.random(len(h)) < spouse_share), second, head))

    def _properties(self, ch: _Chunk) -> dict[str, Any]:
        rng = self._rng("estate.properties", ch.c)
        h = np.arange(ch.h0, ch.h1)
        n, kind, rural = len(h), self._kind(h), self.rural[h]
        dwellings = np.zeros(n, np.int64)
        for kind_name, shares in DWELLINGS.items():
            mine = kind == KINDS.index(kind_name)
            dwellings[mine] = _pick(rng, shares, int(mine.sum()))
        factor = np.array([1.0, 1.0, 0.5, 0.0])[kind]
        parts = [(np.repeat(h, dwellings), np.full(int(dwellings.sum()), "住宅"))]
        for other, urban, in_village in OTHER_PROPERTY:
            has = rng.random(n) < np.where(rural, in_village, urban) * factor
            parts.append((h[has], np.full(int(has.sum()), other)))
        hs = np.concatenate([x[0] for x in parts])
        order = np.argsort(hs, kind="stable")
        hs, use = hs[order], np.concatenate([x[1] for x in parts])[order]
        k = np.arange(len(hs)) - np.searchsorted(hs, hs)  # the property's number in its household (< 8)
        area = np.zeros(len(hs))
        for name, ((mu_u, s_u), (mu_r, s_r)) in FLOOR_AREA.items():
            mine = use == name
            r = self.rural[hs[mine]]
            area[mine] = np.where(r, mu_r, mu_u) * np.exp(
                np.where(r, s_r, s_u) * rng.standard_normal(int(mine.sum()))
            )
        owner = self._owner(rng, hs, 0.3)
        year = 2008 + rng.integers(0, max(1, self.as_of.year - 2008 + 1), len(hs))
        serial = hs * 8 + k
        width = max(7, len(str(self.households * 8)))
        county = pc.take(self.villages.registry, pa.array(self.villages.county_index[self.village[hs]]))
        certificate = _join(
            "赣(", pc.cast(pa.array(year), pa.string()), ")", county, "不动产权第", _text(serial, width), "号"
        )
        return {
            "certificate": certificate,
            "id_number": self.person_ids(owner),
            "use": pa.array(use.astype(str)),
            "floor_area": np.round(area, 2),
        }

    def _vehicles(self, ch: _Chunk) -> dict[str, Any]:
        rng = self._rng("police.vehicles", ch.c)
        h = np.arange(ch.h0, ch.h1)
        n, kind, rural = len(h), self._kind(h), self.rural[h]
        cars = np.zeros(n, np.int64)
        for kind_name, shares in CARS.items():
            mine = kind == KINDS.index(kind_name)
            cars[mine] = _pick(rng, shares, int(mine.sum()))
        moto = rng.random(n) < np.array(MOTORCYCLE)[rural.astype(int)] * np.where(kind == 3, 0.3, 1.0)
        # the disabled member of a household (the first with a limb disability), if any
        limb = (self.grade > 0) & (self.disability_kind == [k for k, _ in DISABILITY_KINDS].index("肢体"))
        p = np.arange(self.offsets[ch.h0], self.offsets[ch.h1])
        disabled_of = np.full(n, -1)
        adults = p[limb[p] & (self.age[p] >= 18)]
        disabled_of[self.hh[adults][::-1] - ch.h0] = adults[::-1]
        special = (disabled_of >= 0) & (rng.random(n) < DISABLED_CAR)
        hs = np.concatenate([np.repeat(h, cars), h[moto], h[special]])
        kinds = np.concatenate(
            [
                np.where(rng.random(int(cars.sum())) < LARGE_CAR, 1, 0),
                np.full(int(moto.sum()), 2),
                np.full(int(special.sum()), 3),
            ]
        )
        owners = np.concatenate(
            [self._owner(rng, np.repeat(h, cars), 0.3), self.offsets[h[moto]], disabled_of[special]]
        )
        order = np.argsort(hs, kind="stable")
        hs, kinds, owners = hs[order], kinds[order], owners[order]
        k = np.arange(len(hs)) - np.searchsorted(hs, hs)  # < 4: 2 cars, a motorcycle, a special one
        return {
            "plate": self._plates(hs * 4 + k),
            "id_number": self.person_ids(owners),
            "kind": pc.take(pa.array(["小型汽车", "大型汽车", "摩托车", "残疾人专用车"]), pa.array(kinds)),
        }

    def _plates(self, index: np.ndarray) -> pa.Array:
        """号牌号码 赣A + five letters or digits, one plate for each index (a scrambled bijection)."""
        letters = 2 if self.households * 4 <= 34**2 * 1000 else 3 if self.households * 4 <= 34**3 * 100 else 4
        space = 34**letters * 10 ** (5 - letters)
        if self.households * 4 > space:
            raise ValueError("too many households for 赣A plates")
        v = (index.astype(np.int64) * 7_919 + 104_729) % space
        cols = []
        for radix in [10] * (5 - letters) + [34] * letters:  # least significant first
            cols.append(v % radix)
            v //= radix
        chars = np.frombuffer(_PLATE_CHARS.encode(), np.uint8)
        body = _ascii(chars[np.column_stack(cols[::-1])])
        return _join("赣A", body)

    def _businesses(self, ch: _Chunk) -> dict[str, Any]:
        rng = self._rng("market.businesses", ch.c)
        h = np.arange(ch.h0, ch.h1)
        n, kind = len(h), self._kind(h)
        chance = np.array([BUSINESS[k] for k in KINDS])[kind]
        count = np.where(rng.random(n) < chance, np.where(rng.random(n) < 0.15, 2, 1), 0)
        hs = np.repeat(h, count)
        k = np.arange(len(hs)) - np.searchsorted(hs, hs)
        m = len(hs)
        rural = self.rural[hs]
        shares = np.array([BUSINESS_KINDS[False], BUSINESS_KINDS[True]])[rural.astype(int)]
        what = (rng.random(m)[:, None] >= np.cumsum(shares, axis=1)).sum(axis=1)  # 0 个体, 1 企业, 2 合作社
        state = _pick(rng, BUSINESS_STATES, m)
        state = np.where((self.status[hs] >= DIBAO) & (state == 0), 1, state)
        owner = self._owner(rng, hs, 0.35)
        type_digit = np.array([2, 1, 3])[what]
        serial = (hs * 2 + k) * 48_271 % 10**8
        return {
            "credit_code": credit_codes(type_digit, self.region[owner], serial),
            "id_number": self.person_ids(owner),
            "kind": pc.take(pa.array(["个体工商户", "企业", "农民专业合作社"]), pa.array(what)),
            "state": pc.take(pa.array(["存续", "注销", "吊销"]), pa.array(state)),
        }

    def _fund(self, ch: _Chunk) -> dict[str, Any]:
        jobs = self._jobs(ch)
        rng = self._rng("fund.accounts", ch.c)
        p = np.arange(ch.p0, ch.p1)
        n = len(p)
        rural = self.rural[self.hh[p]].astype(int)
        paying = jobs["earner"] & (rng.random(n) < np.array(FUND)[rural])
        old = (
            ~jobs["earner"]
            & (self.age[p] >= 40)
            & (self.age[p] <= 75)
            & (rng.random(n) < FUND_OLD * (1 - rural))
        )
        current = paying & (jobs["last"] == MONTHS - 1)
        closed = old & (rng.random(n) < FUND_CLOSED)
        state = np.where(current, 0, np.where(closed, 2, 1))  # 正常, 销户, 封存
        months_paid = rng.integers(12, 180, n)
        balance = np.where(
            paying,
            jobs["wage"] * 0.24 * months_paid * rng.uniform(0.3, 1.0, n),
            _lognormal(rng, 8000.0, 1.0, n),
        )
        balance = np.where(state == 2, 0.0, balance)
        mine = paying | old
        return {
            "id_number": self.person_ids(p[mine]),
            "balance": np.round(balance[mine], 2),
            "state": pc.take(pa.array(["正常", "封存", "销户"]), pa.array(state[mine])),
        }

    def _disasters(self, ch: _Chunk) -> dict[str, Any]:
        rng = self._rng("emergency.disasters", ch.c)
        h = np.arange(ch.h0, ch.h1)
        hit = rng.random(len(h)) < np.array(DISASTER)[self.rural[h].astype(int)]
        hs = h[hit]
        m = len(hs)
        happened = self.today - rng.integers(1, DAYS + 1, m)
        kind = _pick(rng, [w for _, w in DISASTER_KINDS], m)
        loss = np.minimum(_lognormal(rng, DISASTER_LOSS[0], DISASTER_LOSS[1], m), 5_000_000)
        return self._disaster_rows(hs, happened, kind, loss, "ZH", hs)

    def _disaster_rows(
        self,
        hs: np.ndarray,
        happened: np.ndarray,
        kind: np.ndarray,
        loss: np.ndarray,
        prefix: str,
        serial: np.ndarray,
    ) -> dict[str, Any]:
        width = max(7, len(str(self.households)), len(str(int(serial.max()))) if len(serial) else 0)
        heads = self.offsets[hs]
        report = _join(prefix, self._county_text(heads), self._date_text(happened), _text(serial, width))
        return {
            "report": report,
            "household": self.household_ids(hs),
            "kind": pc.take(pa.array([k for k, _ in DISASTER_KINDS]), pa.array(kind)),
            "happened": happened,
            "loss": np.round(loss, 2),
        }

    # -- one household -----------------------------------------------------------------------------------
    def index_of(self, household_id: str) -> int:
        """The household's index (KeyError naming it when there is no such household)."""
        village = self.villages.index.get(household_id[:12])
        serial = int(household_id[12:]) if household_id[12:].isdigit() else 0
        if village is None or serial < 1:
            raise KeyError(f"no household {household_id!r}")
        h = int(self.village_start[village]) + serial - 1
        if h >= self.households or self.village[h] != village:
            raise KeyError(f"no household {household_id!r}")
        return h

    def household(self, household_id: str) -> Household:
        """The household and its members."""
        h = self.index_of(household_id)
        p = np.arange(self.offsets[h], self.offsets[h + 1])
        ids, names = self.person_ids(p).to_pylist(), self.names(p).to_pylist()
        members = [
            Member(
                id_number=ids[i],
                name=names[i],
                relation=RELATIONS[self.relation[q]],
                sex="男" if self.male[q] else "女",
                born=_date(self.born[q]),
                labour=LABOUR[self.labour[q]] if self.labour[q] >= 0 else None,
                disability=int(self.grade[q]),
            )
            for i, q in enumerate(p)
        ]
        c = h // CHUNK
        if self._addresses[0] != c:  # the addresses of the last chunk asked for
            self._addresses = (c, self._households(self._chunk(c))["address"])
        address = self._addresses[1][h - c * CHUNK].as_py()
        return Household(
            id=household_id,
            village=self.villages.codes[self.village[h]],
            address=address,
            status=STATUSES[self.status[h]],
            rural=bool(self.rural[h]),
            members=members,
        )

    # -- shocks ------------------------------------------------------------------------------------------
    def _shock_rng(self) -> np.random.Generator:
        self._shocks += 1
        return self._rng("shock", self._shocks)

    def _add(self, dataset: str, columns: dict[str, Any]) -> pa.RecordBatch:
        batch = self._batch(self.datasets[dataset], columns)
        self._extra.setdefault(dataset, []).append(batch)
        return batch

    def illness(self, household_id: str, amount: float, on: date | None = None) -> pa.RecordBatch:
        """A member (the eldest) falls seriously ill: one medical.bills row, ``amount`` yuan self-paid."""
        h = self.index_of(household_id)
        rng = self._shock_rng()
        p = np.arange(self.offsets[h], self.offsets[h + 1])
        person = np.array([p[np.argmax(self.age[p])]])
        self._shocked.add(h)
        day = np.array([_days(on or self.as_of)])
        total = round(amount / float(rng.uniform(0.3, 0.45)), 2)
        names = DIAGNOSES["catastrophic"]
        bill = _join(
            "JX", self._county_text(person), self._date_text(day), _text(np.array([self._shocks]), 10)
        )
        return self._add(
            "medical.bills",
            {
                "bill": bill,
                "id_number": self.person_ids(person),
                "settled": day,
                "total": [total],
                "self_pay": [round(float(amount), 2)],
                "diagnosis": [names[int(rng.integers(0, len(names)))]],
            },
        )

    def job_loss(self, household_id: str, on: date | None = None) -> pa.RecordBatch:
        """The household's main earner (the highest wage among those insured in the last month; else
        the eldest member able to work) loses the job ``on`` (default: 150 days before as_of): an
        hrss.unemployment registration, and no insured wages from that month on."""
        h = self.index_of(household_id)
        day = _days(on) if on is not None else self.today - 150
        c = self._chunk(h // CHUNK)
        jobs = self._jobs(c)
        p = np.arange(self.offsets[h], self.offsets[h + 1])
        local = p - c.p0
        working = jobs["earner"][local] & (jobs["last"][local] == MONTHS - 1)
        if working.any():
            person = int(p[working][np.argmax(jobs["wage"][local][working])])
        else:
            able = (self.age[p] >= 18) & (self.age[p] <= 59) & (self.labour[p] >= 0) & (self.labour[p] <= 1)
            if not able.any():
                raise ValueError(f"household {household_id} has no one who could lose a job")
            person = int(p[able][np.argmax(self.age[p][able])])
        self._shocked.add(h)
        self._stopped[person] = max(0, int(np.searchsorted(self.months, day, side="right")) - 1)  # its month
        self._shock_rng()
        return self._add(
            "hrss.unemployment",
            {
                "id_number": self.person_ids(np.array([person])),
                "registered": [day],
                "ended": pa.nulls(1, pa.date32()),
            },
        )

    def flood(self, village_code: str, households: int = 5, on: date | None = None) -> pa.RecordBatch:
        """A flood in a village: emergency.disasters rows (洪涝) for ``households`` of its households
        (all when it has fewer), losses lognormal around 30,000 yuan."""
        v = self.villages.index.get(village_code)
        if v is None:
            raise KeyError(f"{village_code} is not a village or community of the city")
        mine = np.arange(self.village_start[v], self.village_start[v + 1])
        if not len(mine):
            raise ValueError(f"village {village_code} has no households in this population")
        rng = self._shock_rng()
        hs = np.sort(rng.choice(mine, size=min(households, len(mine)), replace=False))
        self._shocked.update(int(x) for x in hs)
        day = np.full(len(hs), _days(on or self.as_of))
        loss = _lognormal(rng, FLOOD_LOSS[0], FLOOD_LOSS[1], len(hs))
        serial = self._shocks * 10_000 + np.arange(len(hs))
        return self._add(
            "emergency.disasters",
            self._disaster_rows(hs, day, np.zeros(len(hs), np.int64), loss, "ZHS", serial),
        )

    # -- where a shock shows -------------------------------------------------------------------------------
    def screening_view(self, c: int) -> dict[str, np.ndarray]:
        """Per household of chunk ``c`` (what the shock pickers look at): whether authorised, insured
        wages over the last 12 months and the 12 before, medical self-pay and whether a disaster was
        reported over the last 365 days, whether a member has a grade 1-2 disability or an open
        unemployment registration, whether someone is insured this month, whether a shock hit it."""
        ch = self._chunk(c)
        h = np.arange(ch.h0, ch.h1)
        ids = self.person_ids(np.arange(ch.p0, ch.p1))

        def per_household(persons: np.ndarray, values: Any = None) -> np.ndarray:
            return np.bincount(self.hh[ch.p0 + persons] - ch.h0, values, minlength=len(h))

        wages = self._wages(ch)
        earner = pc.index_in(wages["id_number"], ids).to_numpy()
        recent = np.asarray(wages["month"]) >= self.since_12m
        wage = np.asarray(wages["wage"])
        bills = self._bills(ch)
        patient = pc.index_in(bills["id_number"], ids).to_numpy()
        lately = bills["settled"] >= self.today - 365
        out = self._unemployment_rows(ch)
        still = (out["ended"] < 0) | (out["ended"] > self.today)
        jobs = self._jobs(ch)
        insured = np.flatnonzero(jobs["earner"] & (jobs["last"] == MONTHS - 1))
        severe = np.flatnonzero((self.grade[ch.p0 : ch.p1] >= 1) & (self.grade[ch.p0 : ch.p1] <= 2))
        disasters = self._disasters(ch)
        struck = self.index_of_many(disasters["household"])[disasters["happened"] >= self.today - 365]
        hit = np.zeros(len(h), bool)
        hit[struck - ch.h0] = True
        return {
            "household": h,
            "authorised": self.authorised(h),
            "income_12m": per_household(earner[recent], wage[recent]),
            "income_prev_12m": per_household(earner[~recent], wage[~recent]),
            "medical_12m": per_household(patient[lately], bills["self_pay"][lately]),
            "unemployed": per_household(out["person"][still] - ch.p0) > 0,
            "working": per_household(insured) > 0,
            "severe_disability": per_household(severe) > 0,
            "disaster_12m": hit,
            "shocked": np.isin(h, list(self._shocked)),
        }

    def index_of_many(self, household_ids: pa.Array) -> np.ndarray:
        """The indexes of households of this population by their numbers."""
        codes = pc.utf8_slice_codeunits(household_ids, 0, 12)
        village = pc.index_in(codes, pa.array(self.villages.codes)).to_numpy(zero_copy_only=False)
        serial = pc.cast(pc.utf8_slice_codeunits(household_ids, 12), pa.int64()).to_numpy(
            zero_copy_only=False
        )
        return np.asarray(self.village_start[village] + serial - 1, dtype=np.int64)

    def pick_household(
        self, shock: Shock = "illness", max_income_per_person: float | None = None, stable_share: float = 0.7
    ) -> str:
        """A household where the shock visibly raises its risk, and only it: authorised, in a rural
        village, 一般户 or 脱贫户, with a low insured income per person over the last 12 months (below
        ``max_income_per_person``: 9,000 yuan for an illness, 12,000 for a job loss) that has not
        fallen (at least ``stable_share`` of the 12 months before), little medical self-pay (under
        1,000 yuan), no member with a grade 1-2 disability or an open unemployment registration, no
        disaster in the year, not hit by an earlier shock, and for a job loss someone insured this
        month. The first such household of a seeded shuffle of the chunks' households."""
        limit = max_income_per_person
        if limit is None:
            limit = {"illness": 9000.0, "job_loss": 12000.0}[shock]
        for c in range(self.chunks):
            view = self.screening_view(c)
            h = view["household"]
            ok = (
                view["authorised"]
                & self.rural[h]
                & (self.status[h] <= LIFTED)
                & (view["income_12m"] / self.size[h] < limit)
                & (view["income_12m"] >= stable_share * view["income_prev_12m"])
                & (view["medical_12m"] < 1000)
                & ~view["unemployed"]
                & ~view["severe_disability"]
                & ~view["disaster_12m"]
                & ~view["shocked"]
            )
            if shock == "job_loss":
                ok &= view["working"]
            found = h[ok]
            if len(found):
                pick = found[self._rng("shock", 0).permutation(len(found))[0]]
                return str(self.household_ids(np.array([pick]))[0])
        raise LookupError(f"no household of this population fits a visible {shock}")

    def pick_village(self, households: int = 5) -> str:
        """A rural village with at least ``households`` households that no earlier shock hit (the
        first of a seeded shuffle)."""
        counts = np.bincount(self.village, minlength=len(self.villages.codes))
        spared = np.ones(len(counts), bool)
        spared[self.village[sorted(self._shocked)]] = False
        fits = np.flatnonzero((counts >= households) & self.villages.rural & spared)
        if not len(fits):
            raise LookupError(f"no rural village has {households} households in this population")
        return self.villages.codes[int(fits[self._rng("shock", 0).permutation(len(fits))[0]])]
