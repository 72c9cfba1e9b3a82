// Copy buttons: <button class="copy" data-copy-target="ID"> copies the text of #ID.
// Loaded as a file (the app's CSP allows no inline script).
"use strict";

function copyTarget(button) {
  var target = document.getElementById(button.getAttribute("data-copy-target"));
  if (!target) {
    return;
  }
  var label = button.textContent;
  function done(message) {
    button.textContent = message;
    button.setAttribute("data-copied", message === "Copied" ? "yes" : "no");
    window.setTimeout(function restore() {
      button.textContent = label;
      button.removeAttribute("data-copied");
    }, 2000);
  }
  if (!navigator.clipboard) {
    done("Select and copy the text above");
    return;
  }
  navigator.clipboard.writeText(target.textContent).then(
    function copied() { done("Copied"); },
    function refused() { done("Copying was refused: select the text above"); }
  );
}

document.addEventListener("click", function onClick(event) {
  var button = event.target.closest("button.copy");
  if (button) {
    copyTarget(button);
  }
});
