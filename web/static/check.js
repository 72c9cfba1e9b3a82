// The quote checker answers as one types: a moment after the last keystroke the text
// goes to the JSON twin of the page (the form's data-json address), and the verdict,
// the closest archived quote and its word diff appear under the form. Everything is
// built from DOM nodes and textContent: archived words are never parsed as HTML.
// Loaded as a file (the app's CSP allows no inline script).
"use strict";

(function liveCheck() {
  var form = document.querySelector("form.check[data-json]");
  var panel = document.querySelector("section.live-check");
  if (!form || !panel || !window.fetch || !window.AbortController) {
    return;
  }
  var field = form.querySelector("textarea[name=q]");
  var timer = null;
  var pending = null;
  var asked = field.value.trim();

  function node(tag, className, text) {
    var made = document.createElement(tag);
    if (className) {
      made.className = className;
    }
    if (text) {
      made.textContent = text;
    }
    return made;
  }

  function show(verdict, children) {
    panel.textContent = "";
    panel.setAttribute("data-verdict", verdict);
    children.forEach(function add(child) { panel.appendChild(child); });
    panel.hidden = false;
  }

  function words(match) {
    var said = node("p", "words");
    said.appendChild(document.createTextNode("\u201c"));
    if (match.diff.length) {
      match.diff.forEach(function part(change) {
        var tag = { insert: "ins", delete: "del" }[change.op] || "span";
        said.appendChild(node(tag, null, change.text));
      });
    } else {
      said.appendChild(document.createTextNode(match.quote.text));
    }
    said.appendChild(document.createTextNode("\u201d"));
    return said;
  }

  function render(result) {
    var parts = [node("h2", "verdict-label", result.label)];
    var match = result.matches[0];
    if (match) {
      parts.push(words(match));
      var who = match.speaker || "Speaker not identified";
      parts.push(node("p", "who", match.role ? who + ", " + match.role : who));
      var links = node("p", "links");
      var link = node("a", "quote-link", "The quote on the record");
      link.href = match.quote.url;
      links.appendChild(link);
      parts.push(links);
    }
    show(result.verdict, parts);
  }

  function ask() {
    var text = field.value.trim();
    if (text === asked) {
      return;
    }
    asked = text;
    if (pending) {
      pending.abort();
    }
    if (text.split(/\s+/).length < 3) {
      panel.hidden = true;
      return;
    }
    var stale = document.querySelector("section.verdict");
    if (stale) {
      stale.hidden = true;  // the verdict below the form was for other words
    }
    pending = new AbortController();
    fetch(form.getAttribute("data-json") + "?q=" + encodeURIComponent(text), {
      signal: pending.signal,
      headers: { Accept: "application/json" },
    })
      .then(function read(response) {
        return response.json().then(function body(found) {
          if (!response.ok) {
            throw new Error(found.error ? found.error.message : response.statusText);
          }
          render(found);
        });
      })
      .catch(function failed(error) {
        if (error.name !== "AbortError") {
          show("error", [node("p", "problem", error.message)]);
        }
      });
  }

  field.addEventListener("input", function typed() {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 250);
  });
})();
