// Compares the #sha256= fragment of the scanned QR code (never sent to the server) with the
// registry's data hash shown on the page.
(function () {
  var el = document.getElementById("qr-check");
  var m = /(?:^#|&)sha256=([0-9a-fA-F]{64})/.exec(window.location.hash);
  if (!el || !m) { return; }
  var zh = document.documentElement.lang === "zh-CN";
  if (m[1].toLowerCase() === el.getAttribute("data-sha256")) {
    el.textContent = zh ? "您扫描的二维码中的数据哈希与登记簿一致。" : "The data hash in the QR code you scanned matches the registry.";
    el.className = "pass";
  } else {
    el.textContent = zh ? "您扫描的二维码中的数据哈希与登记簿不一致：该文件不是签发的证书。"
                        : "The data hash in the QR code you scanned does NOT match the registry: that document is not the certificate issued.";
    el.className = "fail";
  }
}());
