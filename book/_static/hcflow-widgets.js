// Loaded before the ipywidgets HTML manager (vendor/html-manager/embed-amd.js), on pages with widgets.
// 1. The manager finds its icon fonts relative to the URL that require.js gives its own modules,
//    "@jupyter-widgets/html-manager/dist/…", which would be relative to the page: map that prefix
//    to the folder the manager really is in.
require.config({
  paths: { "@jupyter-widgets/html-manager/dist": new URL("vendor/html-manager", document.currentScript.src).href },
});
// 2. Widget labels are typeset with MathJax 2's MathJax.Hub.Queue(["Typeset", MathJax.Hub, el]);
//    the book loads MathJax 3, which has no Hub: translate that call once MathJax is ready (the
//    Hub is set on the configuration and again when MathJax replaces it with its own object).
(function () {
  var hub = {
    Queue: function (job) {
      var el = job && job[2];
      var ready = window.MathJax && MathJax.startup && MathJax.startup.promise;
      return ready && el ? ready.then(function () { return MathJax.typesetPromise([el]); }) : undefined;
    },
  };
  var config = (window.MathJax = window.MathJax || {});
  config.Hub = hub;
  config.startup = config.startup || {};
  var ready = config.startup.ready;
  config.startup.ready = function () {
    if (ready) ready(); else MathJax.startup.defaultReady();
    MathJax.Hub = hub;
  };
})();
