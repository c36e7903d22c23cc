"""The web app's two languages (zh, en): a catalogue of shared strings, and how a request's language is chosen.

A page says a string either by catalogue key, ``t("nav.logout")``, or as a pair in place,
``t("退出", "Log out")`` (as the public verification pages do). The language is the ``fp_lang``
cookie set by the switch (``/lang/zh``, ``/lang/en``), else the browser's Accept-Language.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

LANGS = ("zh", "en")
COOKIE = "fp_lang"

CATALOGUE: dict[str, tuple[str, str]] = {
    "app.title": ("产品碳足迹认证", "Product carbon footprint certification"),
    "nav.logout": ("退出", "Log out"),
    "nav.parks": ("园区数据", "Parks"),
    "nav.certificates": ("证书", "Certificates"),
    "nav.template": ("数据模板", "Workbook template"),
    "nav.review": ("审核队列", "Review queue"),
    "nav.issue": ("发证", "Issuing"),
    "nav.users": ("用户", "Users"),
    "role.manufacturer": ("生产企业", "manufacturer"),
    "role.reviewer": ("审核员", "reviewer"),
    "role.issuer": ("签发人", "issuer"),
    "role.admin": ("管理员", "admin"),
    "login.title": ("登录", "Log in"),
    "login.email": ("电子邮箱", "E-mail"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("电子邮箱或密码不正确。", "Wrong e-mail or password."),
    "login.throttled": ("登录失败次数过多，请 {minutes} 分钟后再试。",
                        "Too many failed logins; try again in {minutes} minutes."),
    "error.forbidden": ("您的角色无权访问此页面。", "Your role may not open this page."),
    "error.not_found": ("未找到。", "Not found."),
    "error.csrf": ("表单已过期或来源不明，请返回重新提交。",
                   "The form expired or did not come from this site; go back, reload it and submit again."),
    "error.too_large": ("上传内容过大（上限 {limit} MB）。", "The upload is too large (at most {limit} MB)."),
    "job.queued": ("排队中", "queued"),
    "job.running": ("运行中", "running"),
    "job.done": ("完成", "done"),
    "job.failed": ("失败", "failed"),
    "job.title": ("后台任务", "Background job"),
    "job.continue": ("查看结果", "See the result"),
    "job.waiting": ("等待后台进程开始……", "Waiting for the job worker to start it…"),
    "request.requested": ("已申请", "requested"),
    "request.reviewing": ("审核中", "in review"),
    "request.approved": ("已批准", "approved"),
    "request.rejected": ("已驳回", "rejected"),
    "request.issued": ("已发证", "issued"),
}


def lang_of(request: Request) -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGS:
        return chosen  # type: ignore[return-value]
    accept = request.headers.get("accept-language", "").lower()
    return "zh" if accept.startswith("zh") else "en"


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)`` from the catalogue, or ``t(zh, en)`` given in place."""
    index = 0 if lang == "zh" else 1

    def t(key: str, en: str | None = None, **values: object) -> str:
        if en is not None:
            return (key, en)[index]
        text = CATALOGUE[key][index]
        return text.format(**values) if values else text

    return t
