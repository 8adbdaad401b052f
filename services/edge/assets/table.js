// In-place updates of a dataset page's view: sorting, paging and filtering the table, and the
// chart and map forms and links, fetch the page's next view and swap it in without reloading (the
// rest of the page and the scroll position stay); the address bar follows, Back returns to the
// previous view, the section acted on gets the focus, and a status line says what changed. An
// answer that is not a view (an error page) is loaded again as a full page. Without this script
// every one of them is an ordinary link or form.
(function () {
  "use strict";
  var view = document.getElementById("view");
  var status = document.getElementById("view-status");
  if (!view || !window.fetch || !window.DOMParser || !window.AbortController || !history.pushState) {
    return;
  }
  var path = location.pathname;
  // The view shown: its query (a change of fragment alone is the browser's to handle).
  var shown = location.search;
  var pending = null;

  function isOtherView(url) {
    return url.origin === location.origin && url.pathname === path && url.search !== shown;
  }

  // The id of the last section heading (`h2[id]`) before `element`, to focus in the new view.
  function sectionOf(element) {
    var id = "data";
    view.querySelectorAll("h2[id]").forEach(function (heading) {
      if (heading.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_FOLLOWING) {
        id = heading.id;
      }
    });
    return id;
  }

  // What the new view shows, in words: the chart's or map's caption when one was acted on,
  // else the table's order and rows.
  function describe(section) {
    var caption = section !== "data" && view.querySelector("#" + section + " ~ figure figcaption");
    if (caption) {
      return caption.textContent;
    }
    var sorted = view.querySelector("th[aria-sort]");
    var rows = view.querySelector(".pages span");
    var order = sorted ? "Sorted by " + sorted.textContent.replace(/[▲▼]/g, "").trim() + ", " +
      sorted.getAttribute("aria-sort") + ". " : "";
    return order + (rows ? rows.textContent : "");
  }

  function announce(text) {
    if (!status) {
      return;
    }
    // Cleared first, so the same words are read out again.
    status.textContent = "";
    window.requestAnimationFrame(function () {
      status.textContent = text;
    });
  }

  function swap(html, section) {
    var next = new DOMParser().parseFromString(html, "text/html").getElementById("view");
    if (!next) {
      throw new Error("the answer is not a dataset page");
    }
    var active = document.activeElement;
    var focusWasHere = !active || active === document.body || view.contains(active);
    view.replaceWith(next);
    view = next;
    announce(describe(section));
    var heading = document.getElementById(section);
    if (heading && focusWasHere) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
      if (heading.getBoundingClientRect().top < 0) {
        heading.scrollIntoView();
      }
    }
  }

  // Shows the view at `url`, focusing `section`; `push` records it in the history.
  function show(url, section, push) {
    if (pending) {
      pending.abort();
    }
    var request = new AbortController();
    pending = request;
    view.setAttribute("aria-busy", "true");
    fetch(url.href, { signal: request.signal, headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok || (response.redirected && new URL(response.url).pathname !== path)) {
          throw new Error("status " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (pending !== request) {
          return;
        }
        swap(html, section);
        shown = url.search;
        // After the swap: the address bar changing is the sign that the view has.
        if (push) {
          history.pushState({ section: section }, "", url.href);
        }
      })
      .catch(function (error) {
        if (error.name !== "AbortError") {
          location.replace(url.href);
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
    var link = event.target.closest("#view a[href]");
    if (!link || link.hasAttribute("download") || link.target) {
      return;
    }
    var url = new URL(link.href, location.href);
    if (!isOtherView(url)) {
      return;
    }
    event.preventDefault();
    show(url, sectionOf(link), true);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var method = (submitter && submitter.getAttribute("formmethod")) || form.method;
    if (event.defaultPrevented || !form.closest("#view") || method.toLowerCase() !== "get") {
      return;
    }
    // A button's `formAction` is the page's address when it has no `formaction` of its own.
    var action = submitter && submitter.hasAttribute("formaction") ? submitter.formAction : form.action;
    var url = new URL(action, location.href);
    url.search = new URLSearchParams(new FormData(form, submitter)).toString();
    if (url.origin !== location.origin || url.pathname !== path) {
      return;
    }
    event.preventDefault();
    // The same view asked again is read again, not recorded twice.
    show(url, sectionOf(form), url.search !== shown);
  });

  window.addEventListener("popstate", function (event) {
    if (location.search === shown) {
      return;
    }
    var section = (event.state && event.state.section) || "data";
    show(new URL(location.href), section, false);
  });
})();
