// Search in the browser, as progressive enhancement: every search box is a plain form without this.
// - Suggestions as you type: asks /search for JSON (the server's index).
// - On a static export (no server: /search is a file), the same answers come from the prebuilt index
//   split in shards (/search/index/XX.json, by the first letters of each word), ranked as the server
//   ranks: exact, prefix, whole word, word prefix; shorter labels first.
"use strict";
(function () {
  const RANKS = ["exact", "prefix", "word", "word prefix"];
  const shards = new Map();
  let manifest = null;

  function normalize(text) {
    return text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, " ").trim().replace(/\s+/g, " ");
  }
  function localName(iri) {
    const parts = iri.replace(/[/#]+$/, "").split(/[/#]/);
    return parts[parts.length - 1];
  }
  async function loadShard(name) {
    if (!shards.has(name)) {
      shards.set(name, fetch("/search/index/" + name + ".json")
        .then(function (r) { return r.ok ? r.json() : []; }).catch(function () { return []; }));
    }
    return shards.get(name);
  }
  // A word prefix's shard file name, as the exporter names it (tourkg.search.shard_name): the prefix
  // when it is ASCII letters and digits, else "_" and each character's hexadecimal code point.
  function shardName(prefix) {
    if (/^[a-z0-9]+$/.test(prefix)) { return prefix; }
    return "_" + Array.from(prefix).map(function (c) { return c.codePointAt(0).toString(16); }).join("-");
  }
  // The shard of a query word: that of its longest prefix in the manifest (a large shard is split by one
  // more letter, and keeps its best entries for a word that is exactly its prefix).
  async function rowsFor(word) {
    if (manifest === null) {
      manifest = await fetch("/search/index/shards.json").then(function (r) { return r.ok ? r.json() : {}; })
        .catch(function () { return {}; });
    }
    const letters = Array.from(word);
    for (let n = letters.length; n >= 1; n--) {
      const name = shardName(letters.slice(0, n).join(""));
      if (Object.prototype.hasOwnProperty.call(manifest, name)) { return loadShard(name); }
    }
    return [];
  }
  function rank(text, q, tokens) {
    if (text === q) { return 0; }
    if (text.startsWith(q + " ")) { return 1; }
    const words = text.split(" ");
    if (tokens.every(function (t) { return words.includes(t); })) { return 2; }
    if (tokens.every(function (t) { return words.some(function (w) { return w.startsWith(t); }); })) { return 3; }
    return null;
  }
  // The static index's answer, in the server's JSON shape.
  async function staticSearch(query, type, limit) {
    const q = normalize(query);
    if (!q) { return []; }
    const tokens = q.split(" ");
    const wanted = type ? type.toLowerCase() : null;
    const best = new Map();
    // Every hit has each token starting one of its words, so any token's shard holds them all: the
    // longest token's is the most specific, the least likely to be a common prefix's cut-down shard.
    const key = tokens.reduce(function (a, b) { return b.length > a.length ? b : a; });
    for (const [iri, label, lang, types, page] of await rowsFor(key)) {
      if (wanted && !types.some(function (t) { return t.toLowerCase() === wanted || localName(t).toLowerCase() === wanted; })) {
        continue;
      }
      const found = rank(normalize(label), q, tokens);
      if (found === null) { continue; }
      const hit = { iri: iri, label: label, language: lang || null, type: types.map(localName), types: types,
                    page: page, match: RANKS[found], order: [found, label.length, normalize(label), iri] };
      const kept = best.get(iri);
      if (!kept || compare(hit, kept) < 0) { best.set(iri, hit); }
    }
    return Array.from(best.values()).sort(compare).slice(0, limit);
  }
  function compare(a, b) {
    for (let i = 0; i < a.order.length; i++) {
      if (a.order[i] < b.order[i]) { return -1; }
      if (a.order[i] > b.order[i]) { return 1; }
    }
    return 0;
  }
  // The server's answer when there is one; the static index's otherwise.
  async function search(base, query, limit) {
    try {
      const response = await fetch(base + "?limit=" + limit + "&q=" + encodeURIComponent(query),
                                   { headers: { Accept: "application/json" } });
      const type = response.headers.get("Content-Type") || "";
      if (response.ok && type.startsWith("application/json")) { return (await response.json()).results; }
    } catch (error) { /* no server: the static index below */ }
    return staticSearch(query, null, limit);
  }

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
      const results = await search(input.dataset.suggest, query, 8);
      if (asked !== query) { return; }  // a later keystroke has asked again
      list.replaceChildren();
      for (const hit of results) {
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
      list.hidden = results.length === 0;
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

  // A results page served as a file (the static export): run the search here and show the results.
  async function staticResultsPage(article) {
    const params = new URLSearchParams(location.search);
    const query = (params.get("q") || "").trim();
    if (!query || article.dataset.query) { return; }
    const type = params.get("type");
    const input = article.querySelector("input[name=q]");
    if (input) { input.value = query; }
    const results = await staticSearch(query, type, 20);
    for (const old of article.querySelectorAll("p.lead, ol.results")) { old.remove(); }
    const lead = document.createElement("p");
    lead.className = "lead";
    lead.textContent = results.length ? results.length + " result" + (results.length === 1 ? "" : "s") +
      " for “" + query + "”." : "Nothing is called “" + query + "”.";
    article.appendChild(lead);
    const list = document.createElement("ol");
    list.className = "results";
    for (const hit of results) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = hit.page;
      link.textContent = hit.label;
      item.appendChild(link);
      if (hit.language) {
        const lang = document.createElement("span");
        lang.className = "lang";
        lang.textContent = " " + hit.language;
        item.appendChild(lang);
      }
      for (const name of hit.type) {
        const kind = document.createElement("span");
        kind.className = "type";
        kind.textContent = " " + name;
        item.appendChild(kind);
      }
      list.appendChild(item);
    }
    article.appendChild(list);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-suggest]").forEach(attach);
    const article = document.querySelector("article.search");
    if (article) { staticResultsPage(article); }
  });
})();
