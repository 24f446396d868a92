// Live updates: the server sends an event for each new block with its contract events; the page
// then fetches itself again and swaps in its main part. Without JavaScript the pages work the same,
// only without this refresh (reload them).
(function () {
  "use strict";
  if (!window.EventSource) { return; }
  var main = document.getElementById("main");
  var live = document.getElementById("live");
  var updates = 0;
  function concerns(data) {
    if (main.dataset.live !== "job") { return data.events.length > 0; }
    var job = Number(main.dataset.job);
    return data.events.some(function (e) { return e.job === job || e.contract === "OrgRegistry"; });
  }
  function refresh() {
    fetch(window.location.href, { headers: { "Accept": "text/html" } })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (fresh) {
          main.innerHTML = fresh.innerHTML;
          updates += 1;
          document.body.dataset.updates = String(updates);
        }
      });
  }
  var source = null;
  function listen() {
    source = new EventSource("/events");
    source.addEventListener("hello", function () { document.body.dataset.live = "connected"; });
    source.addEventListener("chain", function (message) {
      var data = JSON.parse(message.data);
      live.textContent = "block " + data.block + " · live";
      if (concerns(data)) { refresh(); }
    });
  }
  // A page left for another must close its stream: the browser keeps a few connections per
  // server, and streams of pages kept in the back-forward cache would hold them.
  window.addEventListener("pagehide", function () {
    if (source) { source.close(); source = null; }
  });
  window.addEventListener("pageshow", function () {
    if (!source) { listen(); }
  });
  listen();
})();
