/* Keyboard review of the extracted-facts queue (plain JS, no library).
 *
 * j / k   move the focus to the next / previous claim (the focused row has a visible outline)
 * x       select or unselect the focused claim (then "Approve selected" / "Reject selected")
 * a / r   approve / reject the focused claim (every sentence row of it)
 * o       show or hide its sentences and, for an unlinked name, the link candidates
 *
 * After a decision the page reloads; the focus returns to the same position, i.e. the next claim.
 */
(function () {
  "use strict";
  var KEY = "lm-review-focus";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#lm-queue tr.lm-row"));
  }

  function currentIndex() {
    var active = document.activeElement;
    var row = active && active.closest ? active.closest("tr.lm-row") : null;
    return rows().indexOf(row);
  }

  function focusRow(index) {
    var all = rows();
    if (!all.length) return;
    var row = all[Math.max(0, Math.min(all.length - 1, index))];
    row.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  function toggleDetail(row) {
    var detail = document.getElementById(row.getAttribute("data-detail"));
    if (!detail) return;
    detail.hidden = !detail.hidden;
    var button = row.querySelector(".lm-toggle");
    if (button) button.setAttribute("aria-expanded", String(!detail.hidden));
  }

  function toggleSelect(row) {
    var box = row.querySelector("input.lm-select");
    if (!box) return;
    box.checked = !box.checked;
    row.classList.toggle("lm-selected", box.checked);
  }

  function remember(row) {
    try {
      window.sessionStorage.setItem(KEY, String(rows().indexOf(row)));
    } catch (e) { /* storage may be disabled: the focus then starts at the top */ }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && target.matches && target.matches("input:not([type=checkbox]), textarea, select, [contenteditable]")) return;
    var index = currentIndex();
    var row = index >= 0 ? rows()[index] : null;
    var button;
    switch (event.key) {
      case "j": focusRow(index + 1); break;
      case "k": focusRow(index < 0 ? 0 : index - 1); break;
      case "x": if (!row) return; toggleSelect(row); break;
      case "o": if (!row) return; toggleDetail(row); break;
      case "a":
      case "r":
        if (!row) return;
        button = row.querySelector(event.key === "a" ? "button.lm-approve" : "button.lm-reject");
        if (!button) return;
        remember(row);
        button.click();
        break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) return;
    var toggle = target.closest(".lm-toggle");
    if (toggle) {
      toggleDetail(toggle.closest("tr.lm-row"));
      return;
    }
    var decide = target.closest(".lm-approve, .lm-reject");
    if (decide) remember(decide.closest("tr.lm-row"));
    var select = target.closest("input.lm-select");
    if (select) select.closest("tr.lm-row").classList.toggle("lm-selected", select.checked);
    var bulk = target.closest("button.lm-bulk");
    if (bulk) {
      var count = document.querySelectorAll("#lm-queue input.lm-select:checked").length;
      if (count && !window.confirm(bulk.getAttribute("data-verb") + " " + count + " selected claim(s), with every sentence of each?")) {
        event.preventDefault();
      }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var all = rows();
    if (!all.length) return;
    var stored = null;
    try {
      stored = window.sessionStorage.getItem(KEY);
      window.sessionStorage.removeItem(KEY);
    } catch (e) { stored = null; }
    if (stored !== null) {
      focusRow(parseInt(stored, 10) || 0);
    } else if (!document.activeElement || document.activeElement === document.body) {
      focusRow(0);
    }
  });
})();
