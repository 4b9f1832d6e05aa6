// Runs before the app, as a file rather than inline so the Content-Security-Policy needs no
// 'unsafe-inline'. The app lives at a directory URL (routes are in the hash): "/nas" → "/nas/".
(function () {
  var p = location.pathname;
  if (!/\/$/.test(p) && !/\.html$/.test(p)) location.replace(p + "/" + location.search + location.hash);
  var t = localStorage.getItem("sv-theme");
  if (t) document.documentElement.dataset.theme = t;
})();
