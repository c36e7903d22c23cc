"""The web app in a real browser (Debian's Chromium through Playwright; harness in browser.py)."""

from __future__ import annotations

from browser import browser, page, shoot, web_server  # noqa: F401 - fixtures


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
