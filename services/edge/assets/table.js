// In-place updates of a dataset page's view: sorting, paging and filtering the table, and the
// chart and map forms and links, fetch the page's next view and swap it in without reloading (the
// rest of the page and the scroll position stay); the address bar follows, Back returns to the
// previous view, and the section acted on gets the focus while a status line reads out the rows
// shown. Without this script every one of them is an ordinary link or form.
(function () {
  "use strict";
  var view = document.getElementById("view");
  var status = document.getElementById("view-status");
  if (!view || !window.fetch || !window.DOMParser || !window.AbortController || !history.pushState) {
    return;
  }
  var path = location.pathname;
  var pending = null;

  function samePage(url) {
    return url.origin === location.origin && url.pathname === path;
  }

  // The id of the section heading `element` is under, so the new view can focus it.
  function sectionOf(element) {
    var id = "";
    view.querySelectorAll("h2[id]").forEach(function (heading) {
      if (heading.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_FOLLOWING) {
        id = heading.id;
      }
    });
    return id;
  }

  function swap(html, section) {
    var next = new DOMParser().parseFromString(html, "text/html").getElementById("view");
    if (!next) {
      throw new Error("the answer is not a dataset page");
    }
    view.replaceWith(next);
    view = next;
    var rows = view.querySelector(".pages span");
    if (status && rows) {
      status.textContent = rows.textContent;
    }
    var heading = section && document.getElementById(section);
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }

  // Shows the view at `url`; an answer that is not a view (an error page) is shown as a page.
  function show(url, section, push) {
    if (pending) {
      pending.abort();
    }
    var request = new AbortController();
    pending = request;
    view.setAttribute("aria-busy", "true");
    fetch(url.href, { signal: request.signal, headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        swap(html, section);
        if (push) {
          history.pushState(null, "", url.href);
        }
      })
      .catch(function (error) {
        if (error.name !== "AbortError") {
          location.assign(url.href);
        }
      })
      .then(function () {
        if (pending === request) {
          pending = null;
          view.removeAttribute("aria-busy");
        }
      });
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
        event.shiftKey || event.altKey) {
      return;
    }
    var link = event.target.closest ? event.target.closest("#view a[href]") : null;
    if (!link || link.hasAttribute("download") || link.target) {
      return;
    }
    var url = new URL(link.href, location.href);
    if (!samePage(url)) {
      return;
    }
    event.preventDefault();
    show(url, sectionOf(link), true);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !form.closest("#view") || form.method.toLowerCase() !== "get") {
      return;
    }
    var url = new URL(form.action, location.href);
    if (!samePage(url)) {
      return;
    }
    event.preventDefault();
    url.search = new URLSearchParams(new FormData(form, event.submitter)).toString();
    show(url, sectionOf(form), true);
  });

  window.addEventListener("popstate", function () {
    show(new URL(location.href), "", false);
  });
})();
