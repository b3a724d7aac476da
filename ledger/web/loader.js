// Loads the ES modules a page carries as text, so that a page opened from file:// can use them.
//
// Chromium refuses module scripts from file:// (the page's origin is null, and module scripts
// are fetched with CORS), so a page meant to work offline, double-clicked from a folder, cannot
// import ./verifier/index.js. It can carry each module's text verbatim in a script element of
// type "text/x-module-source" whose data-path attribute names the module ("verifier/bytes.js"),
// which the browser neither runs nor fetches; and this classic script, inlined in the page,
// turns them into modules: each module's relative imports (`from "./x.js"`, `from "../y.js"`)
// are pointed at the data: URL of the module they name, dependencies first, and the entry module
// is imported from its data: URL. Nothing is fetched: data: URLs are made from the page's own
// text. Served over http(s), a page can import the files directly instead.
//
// The modules must keep their import specifiers literal and relative, and must not contain
// the HTML that would end or escape their element (an opening or closing script tag, or an HTML
// comment's opening; the page builder refuses them), nor may this file. No import cycles.

(function () {
  "use strict";

  var IMPORT = /(\bfrom\s*|\bimport\s*)(["'])(\.\.?\/[^"'\n]+)\2/g;

  function resolve(base, relative) {
    var parts = base.split("/").slice(0, -1);
    relative.split("/").forEach(function (part) {
      if (part === "..") {
        if (!parts.length) throw new Error("import above the page's modules: " + relative);
        parts.pop();
      } else if (part !== ".") {
        parts.push(part);
      }
    });
    return parts.join("/");
  }

  function loadEmbeddedModules(entry) {
    var sources = new Map();
    document.querySelectorAll('script[type="text/x-module-source"]').forEach(function (el) {
      sources.set(el.getAttribute("data-path"), el.textContent);
    });
    var urls = new Map();
    var visiting = new Set();
    function url(path) {
      if (urls.has(path)) return urls.get(path);
      if (!sources.has(path)) throw new Error("module " + path + " is not in the page");
      if (visiting.has(path)) throw new Error("import cycle at " + path);
      visiting.add(path);
      var text = sources.get(path).replace(IMPORT, function (match, keyword, quote, specifier) {
        return keyword + quote + url(resolve(path, specifier)) + quote;
      });
      visiting.delete(path);
      var made = "data:text/javascript;charset=utf-8," + encodeURIComponent(text);
      urls.set(path, made);
      return made;
    }
    try {
      return import(url(entry));
    } catch (exc) {
      return Promise.reject(exc);
    }
  }

  globalThis.loadEmbeddedModules = loadEmbeddedModules;
})();
