// Optional enhancement of the query page, which works without JavaScript: Ctrl/Cmd+Enter runs the query.
// Tab is left alone so keyboard users can still move out of the editor.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("query-form");
  const editor = document.getElementById("query");
  if (!form || !editor) return;
  editor.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    }
  });
});
