// The static export's query page with --with-in-browser-sparql: queries run in this browser, on the
// dataset's N-Quads dump, with Oxigraph's WebAssembly build (the npm package "oxigraph", copied into
// /static/oxigraph/ by `tourkg export`). Read-only: only SPARQL queries are run, never updates, and the
// WebAssembly build has no HTTP client, so SERVICE cannot call out. Nothing here runs on the server.
let store = null;

async function engine() {
  if (store === null) {
    const oxigraph = await import("/static/oxigraph/web.js");
    await oxigraph.default({ module_or_path: "/static/oxigraph/web_bg.wasm" });
    const dump = await fetch("/dump.nq");
    if (!dump.ok) { throw new Error("the dump /dump.nq could not be read (" + dump.status + ")"); }
    const loaded = new oxigraph.Store();
    loaded.load(await dump.text(), { format: "application/n-quads" });
    store = loaded;
  }
  return store;
}

function cell(term) {
  if (term === undefined || term === null) { return ""; }
  if (term.termType === "NamedNode") { return "<" + term.value + ">"; }
  if (term.termType === "BlankNode") { return "_:" + term.value; }
  if (term.termType === "Literal") {
    return JSON.stringify(term.value) + (term.language ? "@" + term.language : "");
  }
  return String(term.value);
}

function show(section, heading, columns, rows) {
  section.replaceChildren();
  const title = document.createElement("h2");
  title.textContent = heading;
  section.appendChild(title);
  if (!columns.length) { return; }
  const wrap = document.createElement("div");
  wrap.className = "table-wrap";
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const name of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = name;  // text, never HTML
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const value of row) { tr.insertCell().textContent = value; }
  }
  wrap.appendChild(table);
  section.appendChild(wrap);
}

async function run(form, section) {
  const query = form.querySelector("textarea[name=query]").value;
  section.hidden = false;
  show(section, "Running in your browser…", [], []);
  try {
    const answer = (await engine()).query(query, { use_default_graph_as_union: true });
    if (typeof answer === "boolean") {
      show(section, "Answer: " + (answer ? "yes" : "no"), [], []);
    } else if (answer.length && answer[0] instanceof Map) {
      const columns = Array.from(new Set(answer.flatMap(function (b) { return Array.from(b.keys()); })));
      const rows = answer.map(function (b) { return columns.map(function (c) { return cell(b.get(c)); }); });
      show(section, rows.length + (rows.length === 1 ? " row" : " rows"), columns, rows);
    } else if (Array.isArray(answer) && answer.length && answer[0].subject) {
      const rows = answer.map(function (q) { return [cell(q.subject), cell(q.predicate), cell(q.object)]; });
      show(section, rows.length + (rows.length === 1 ? " triple" : " triples"), ["subject", "predicate", "object"],
           rows);
    } else {
      show(section, "0 rows", [], []);
    }
  } catch (error) {
    show(section, "The query could not run: " + (error && error.message ? error.message : error), [], []);
  }
}

document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("query-form");
  if (!form) { return; }
  const section = document.createElement("section");
  section.className = "results in-browser";
  section.setAttribute("aria-live", "polite");
  section.hidden = true;
  form.after(section);
  const note = document.createElement("p");
  note.className = "hint";
  note.textContent = "This copy of the site has no server: queries run in your browser on the whole dataset " +
    "(the N-Quads dump, loaded on the first query).";
  form.before(note);
  form.addEventListener("submit", function (event) {
    const format = form.querySelector("select[name=format]");
    if (format && format.value !== "html") { return; }  // a download link: leave it to the browser
    event.preventDefault();
    run(form, section);
  });
  const asked = new URLSearchParams(location.search).get("query");
  if (asked) {  // an example query's link: run it
    form.querySelector("textarea[name=query]").value = asked;
    run(form, section);
  }
});
