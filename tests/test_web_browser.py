"""The web app in a real browser (Debian's Chromium through Playwright; harness in browser.py)."""

from __future__ import annotations

import yaml
from browser import browser, page, shoot, web_server  # noqa: F401 - fixtures
from conftest import ROOT


def test_public_upload_page_in_both_languages_refuses_a_file_that_is_not_a_pdf(web_server, page, tmp_path):  # noqa: F811
    page.goto(web_server.url("/verify?lang=zh"))
    assert page.locator("h1").inner_text() == "验证证书 PDF"
    shoot(page, "verify-upload-zh")
    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text() == "Verify a certificate PDF"
    fake = tmp_path / "certificate.pdf"
    fake.write_text("not a PDF at all\n")
    page.set_input_files("input[name=pdf]", str(fake))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Verify").click()
    assert answer.value.status == 400
    assert "the upload is not a PDF file" in page.locator("main").inner_text()
    shoot(page, "verify-upload-refused")


PASSWORD = "browser test password"
MAKER, REVIEWER, ISSUER = "export.desk@example.com", "li.wei@example.org", "issuer@example.org"
HOLDER = "91320902DEMO0006PP"  # Jiangsu Ruisu Precision Plastics (facilities.csv): the moulding plant
PRODUCT = "pp-cell-holder"
NAME = "Injection-moulded PP cell holders and brackets"  # its name in outputs.csv, replaced by:
HOSTILE = "<script>alert(1)</script>"  # text on every page; a dialog would fail the test
JOB_SECONDS = 300  # a job page may take this long to reach its result (a review on a busy 2-core machine)


def _park_zip(path, broken: bool = False):  # noqa: ANN001, ANN202 - Path
    """The demo park's folder zipped, as a manufacturer would upload it, its product named like a script;
    ``broken``: an amount that is not one."""
    import zipfile

    from conftest import DEMO

    with zipfile.ZipFile(path, "w") as z:
        for f in sorted(DEMO.iterdir()):
            data = f.read_bytes()
            if f.name == "outputs.csv":
                assert NAME.encode() in data
                data = data.replace(NAME.encode(), HOSTILE.encode())
            if broken and f.name == "inputs.csv":
                lines = data.decode("utf-8").split("\n")
                cells = lines[2].split(",")
                cells[2] = "twelve"  # inputs.csv row 3, column amount
                lines[2] = ",".join(cells)
                data = "\n".join(lines).encode("utf-8")
            z.writestr(f"demo-park/{f.name}", data)
    return path


def _accounts(home) -> None:  # noqa: ANN001 - Path
    """The three people, and the reviewer registered as the body's reviewer with the same e-mail."""
    from footprint.registry import reviewers, users
    from footprint.registry.records import Registry

    with Registry.open(home) as registry:
        users.add(registry, MAKER, "manufacturer", PASSWORD, [HOLDER])
        users.add(registry, REVIEWER, "reviewer", PASSWORD)
        users.add(registry, ISSUER, "issuer", PASSWORD)
        reviewers.add(registry, "li.wei", "Li Wei", "Demo Verification Body (fictitious)", "CNAS-DEMO-V0000",
                      email=REVIEWER)


def _login(tab, server, email: str) -> None:  # noqa: ANN001
    tab.goto(server.url("/login"))
    tab.fill("#email", email)
    tab.fill("#password", PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_url(lambda url: "/login" not in url)


def _logout(tab) -> None:  # noqa: ANN001
    tab.get_by_role("button", name="Log out").click()
    tab.wait_for_url("**/login")


def _through_job(tab, result: str) -> None:  # noqa: ANN001
    """From a job page (which polls every second) on to its result page; a failed job fails the test with its
    message, as the page shows it."""
    import re
    import time

    tab.wait_for_url(re.compile(r".*/jobs/\d+$"))
    deadline = time.monotonic() + JOB_SECONDS
    from playwright.sync_api import Error

    while "/jobs/" in tab.url and time.monotonic() < deadline:
        try:
            failed = tab.locator("#job-status.status-failed").count()
            error = tab.locator("#job-error").inner_text(timeout=1000) if failed else ""
        except Error:  # the page went on to the result while we looked
            continue
        if failed:
            raise AssertionError(f"job failed: {error}")
        tab.wait_for_timeout(500)
    tab.wait_for_url(re.compile(result))


def test_whole_path_from_upload_to_the_public_page_behind_the_qr_code(web_server, page, tmp_path):  # noqa: F811
    """Manufacturer uploads (a broken copy first), requests; reviewer reviews, recomputes, approves; issuer issues;
    the manufacturer downloads the PDF, and the page its QR code opens says valid."""
    import re

    from footprint.certificates import verification

    _accounts(web_server.home)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # the manufacturer: a broken upload shows its located problem and stores nothing, the fixed one is computed
    _login(page, web_server, MAKER)
    page.wait_for_url("**/parks")
    shoot(page, "manufacturer-parks")
    page.set_input_files("#park", str(_park_zip(tmp_path / "demo-park-broken.zip", broken=True)))
    page.get_by_role("button", name="Upload and check").click()
    _through_job(page, r".*/parks/upload/\d+$")
    problems = page.locator("#problems tr").all_inner_texts()
    assert any(re.search(r"inputs\.csv\s+3\s+amount\s+twelve", row) for row in problems), problems
    shoot(page, "manufacturer-upload-problems")
    page.goto(web_server.url("/parks"))
    assert "No park data uploaded yet." in page.locator("main").inner_text()  # nothing stored
    page.set_input_files("#park", str(_park_zip(tmp_path / "demo-park.zip")))
    page.get_by_role("button", name="Upload and check").click()
    _through_job(page, r".*/parks/\d+$")
    shoot(page, "manufacturer-results")
    pick = page.locator(f"#pick-{PRODUCT}")
    pick.focus()
    page.keyboard.press("Space")
    assert pick.is_checked()
    page.get_by_role("button", name="Request certification of the chosen products").click()
    page.wait_for_url(re.compile(r".*/parks/\d+\?requested=\d+$"))
    request_id = int(page.url.rsplit("=", 1)[1])
    _logout(page)

    # the reviewer: review, recompute, approve with the verification statement
    _login(page, web_server, REVIEWER)
    page.wait_for_url("**/review")
    shoot(page, "reviewer-queue")
    page.click(f'a[href="/review/{request_id}"]')
    page.fill("#iterations", "200")
    page.get_by_role("button", name="Run the review").click()
    _through_job(page, rf".*/review/{request_id}$")
    digest = page.locator("#bundle-hash").inner_text().strip()
    assert digest in page.frame_locator("iframe").locator("body").inner_text()  # the report, framed
    page.get_by_role("button", name="Recompute the bundle").click()
    _through_job(page, rf".*/review/{request_id}$")
    assert page.locator("#recomputed").inner_text().startswith("Reproduced")
    page.locator("iframe").scroll_into_view_if_needed()  # painted before the full-page screenshot
    shoot(page, "reviewer-review")
    statement = yaml.safe_load((ROOT / "inventories" / "demo-statement.yaml").read_text(encoding="utf-8"))
    approve = page.locator("input[name=decision][value=approve]")
    approve.focus()  # by keyboard: a click could land on the report frame while it is still being laid out
    page.keyboard.press("Space")
    assert approve.is_checked()
    page.fill("#comment", "Rows, factors and checks reviewed; recomputation reproduced")
    for field in ("verifier", "accreditation", "criteria", "scope", "intended_users", "opinion"):
        page.fill(f"#{field}", str(statement[field]))
    page.fill("#materiality_percent", str(statement["materiality_percent"]))
    page.select_option("#assurance", statement["assurance"])
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_url(rf"**/review/{request_id}")
    assert page.locator("#request-status").inner_text() == "approved"
    shoot(page, "reviewer-approved")
    _logout(page)

    # the issuer: issue with the server's (demo) key
    _login(page, web_server, ISSUER)
    page.wait_for_url("**/issue")
    shoot(page, "issuer-start")
    page.click(f'a[href="/issue/{request_id}"]')
    page.get_by_role("button", name="Issue the certificates").click()
    _through_job(page, rf".*/issue/{request_id}$")
    assert page.locator("#request-status").inner_text() == "issued"
    number = page.locator('a[href^="/registry/"]').first.inner_text()
    shoot(page, "issuer-issued")
    page.goto(web_server.url("/registry"))
    assert HOSTILE in page.locator("#registry").inner_text()  # shown as the text it is
    shoot(page, "issuer-registry")
    page.click("text=中文")
    assert page.locator("h1").inner_text() == "证书登记册"
    shoot(page, "issuer-registry-zh")
    page.click("text=English")
    page.goto(web_server.url("/audit"))
    page.get_by_role("button", name="Check the whole chain").click()
    _through_job(page, r".*/audit$")
    assert page.locator("#chain-check").inner_text().startswith("Audit log intact")
    shoot(page, "issuer-audit")
    _logout(page)

    # the manufacturer downloads the signed PDF; its QR code opens the public page, which says valid
    _login(page, web_server, MAKER)
    page.goto(web_server.url("/certificates"))
    shoot(page, "manufacturer-certificates")
    with page.expect_download() as download:
        page.click(f'a[href="/certificates/{number}.pdf"]')
    pdf = (tmp_path / "certificate.pdf")
    download.value.save_as(pdf)
    (url,) = verification.qr_payloads(pdf.read_bytes())
    assert url.startswith(f"https://verify.example.org/verify/{number}#sha256=")  # the demo issuer's address
    _logout(page)
    page.goto(web_server.url(url.removeprefix("https://verify.example.org")))  # the same path on this server
    assert page.locator("h1").inner_text() == number
    assert page.locator("#status").inner_text() == "Valid"
    assert page.locator("#qr-check").inner_text() == "The data hash in the QR code you scanned matches the registry."
    assert HOSTILE in page.locator("main").inner_text() and dialogs == []
    shoot(page, "public-verify")
