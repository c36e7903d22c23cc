// The job page: poll /jobs/{id}.json every second; on done go to the result link, on failure show why.
(function () {
  var box = document.getElementById("job");
  if (!box) { return; }
  var words = document.getElementById("job-words").dataset;
  function show(job) {
    var status = document.getElementById("job-status");
    status.textContent = words[job.status] || job.status;
    status.className = "status-" + job.status;
    document.getElementById("job-progress").value = job.fraction;
    document.getElementById("job-step").textContent = job.step || (job.status === "queued" ? words.waiting : "");
    if (job.status === "failed") {
      var error = document.getElementById("job-error");
      error.textContent = job.error || "";
      error.hidden = false;
    }
    if (job.status === "done" && job.link) {
      var link = document.getElementById("job-link");
      link.querySelector("a").setAttribute("href", job.link);
      link.hidden = false;
      window.location.assign(job.link);
    }
    return job.status === "done" || job.status === "failed";
  }
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (job) { if (!show(job)) { setTimeout(poll, 1000); } })
      .catch(function () { setTimeout(poll, 2000); });
  }
  var initial = document.getElementById("job-status").className;
  if (initial !== "status-done" && initial !== "status-failed") { setTimeout(poll, 1000); }
})();
