"""How numbers and labels are printed: significant figures, percentages, category names.

A certificate states a footprint to 3 significant figures (the data file keeps full precision);
fixed notation always, because ``1.23e-05`` on a certificate is a reading error waiting to happen.
"""

from __future__ import annotations

import math

SIG_FIGS = 3

CATEGORY_ZH = {
    "electricity": "电力", "heat and steam": "热力与蒸汽", "fuels": "燃料", "materials": "原材料",
    "transport": "运输", "direct emissions": "直接排放", "packaging": "包装", "water": "水",
    "waste treatment": "废物处理", "services": "服务",
}
DATA_TYPE_ZH = {"primary": "初级数据", "secondary": "次级数据"}
ASSURANCE_ZH = {"limited": "有限保证", "reasonable": "合理保证"}
ALLOCATION_ZH = {"single output": "无需分配（单一产出）", "mass": "质量分配", "economic": "经济价值分配"}


def sig(x: float, digits: int = SIG_FIGS) -> str:
    """``x`` to ``digits`` significant figures in fixed notation, thousands grouped: 12,300 / 0.000250."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    text = f"{x:#.{digits}g}"
    if "e" in text:
        value = float(text)
        exponent = math.floor(math.log10(abs(value)))
        text = f"{value:.{max(0, digits - 1 - exponent)}f}"
    text = text.rstrip(".")
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = f"{int(whole.lstrip('-')):,}"
    return sign + whole + ("." + frac if frac else "")


def part(x: float, total: float) -> str:
    """A part of a footprint; below a billionth of the total it is solver noise and prints as 0."""
    return sig(0.0 if abs(x) <= 1e-9 * abs(total) else x)


def quantity(x: float) -> str:
    """An amount as reported (production, inputs): whole numbers whole, else 6 significant figures."""
    if float(x).is_integer():
        return f"{int(x):,}"
    text = sig(x, 6)
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(fraction: float, places: int = 1) -> str:
    return f"{fraction * 100:.{places}f}%"


def small_percent(fraction: float) -> str:
    """A share that must not round to 0 when it is not 0 (an exempted share): 3 significant figures."""
    return sig(fraction * 100) + "%"


def allocation(basis: str, share: float) -> tuple[str, str]:
    """(Chinese, English) description of the allocation used for a product."""
    if basis == "single output":
        return ALLOCATION_ZH[basis], "none needed (single output)"
    if basis.startswith("physical:"):
        column = basis.split(":", 1)[1]
        return f"物理量分配（{column}），分摊比例 {percent(share)}", f"physical ({column}), share {percent(share)}"
    zh = ALLOCATION_ZH.get(basis, basis)
    return f"{zh}，分摊比例 {percent(share)}", f"{basis}, share {percent(share)}"
