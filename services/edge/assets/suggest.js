// Suggestions as you type, for every search box of the portal: titles from the Discovery API's
// autocompletion (the search service's own typo-tolerant matching), offered through the box's
// <datalist>. Without this script the boxes work the same, only without suggestions.
(function () {
  "use strict";
  var WAIT_MS = 150;
  var MAX_SUGGESTIONS = 8;

  function attach(input) {
    var list = document.createElement("datalist");
    list.id = input.id + "-suggestions";
    input.setAttribute("list", list.id);
    input.setAttribute("autocomplete", "off");
    input.parentNode.appendChild(list);
    var timer = null;
    var asked = "";
    var pending = null;

    function show(titles) {
      while (list.firstChild) {
        list.removeChild(list.firstChild);
      }
      titles.slice(0, MAX_SUGGESTIONS).forEach(function (title) {
        var option = document.createElement("option");
        option.value = title;
        list.appendChild(option);
      });
    }

    function ask() {
      var text = input.value.trim();
      if (text.length < 2 || text === asked) {
        return;
      }
      asked = text;
      if (pending) {
        pending.abort();
      }
      pending = new AbortController();
      fetch("/api/catalog/v1/autocomplete?q=" + encodeURIComponent(text), {
        signal: pending.signal,
        headers: { Accept: "application/json" }
      })
        .then(function (response) {
          return response.ok ? response.json() : { results: [] };
        })
        .then(function (body) {
          show((body.results || []).map(function (result) { return result.title; }));
        })
        .catch(function () { /* offline or superseded: no suggestions */ });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, WAIT_MS);
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("input[data-suggest]"), attach);
})();
