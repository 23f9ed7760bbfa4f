// Suggestions as you type in a search box (progressive: the box is a plain form without this script).
// Asks /search for JSON (the same index as the results page) and lists the best matches as links.
"use strict";
(function () {
  function attach(input) {
    const form = input.form;
    const list = document.createElement("ul");
    list.className = "suggestions";
    list.hidden = true;
    list.setAttribute("aria-label", "Suggestions");
    form.appendChild(list);
    let timer = null;
    let asked = "";
    function clear() {
      list.replaceChildren();
      list.hidden = true;
    }
    async function suggest() {
      const query = input.value.trim();
      if (query.length < 2) { clear(); return; }
      asked = query;
      const url = input.dataset.suggest + "?limit=8&q=" + encodeURIComponent(query);
      let answer;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (!response.ok) { clear(); return; }
        answer = await response.json();
      } catch (error) { clear(); return; }
      if (asked !== query) { return; }  // a later keystroke has asked again
      list.replaceChildren();
      for (const hit of answer.results) {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = hit.page;
        link.textContent = hit.label;  // text, never HTML
        if (hit.language) { link.hreflang = hit.language; }
        item.appendChild(link);
        if (hit.type.length) {
          const kind = document.createElement("span");
          kind.className = "type";
          kind.textContent = " " + hit.type.join(", ");
          item.appendChild(kind);
        }
        list.appendChild(item);
      }
      list.hidden = answer.results.length === 0;
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(suggest, 120);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { clear(); }
      if (event.key === "ArrowDown" && !list.hidden) {
        event.preventDefault();
        list.querySelector("a").focus();
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-suggest]").forEach(attach);
  });
})();
