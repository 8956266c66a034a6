/* Beton Inspector report: draws the Plotly figures and renders every table.bt from its JSON
   rows, sortable, filterable (one box per column), searchable and paged. Plain JavaScript, no
   dependencies but plotly.js, which is inlined above this script. */
(function () {
  "use strict";

  // ---- filters ------------------------------------------------------------------------
  var OP = /^(>=|<=|!=|>|<|=)\s*(.+)$/;
  var RANGE = /^(.+?)\s*\.\.\s*(.+)$/;

  function parseNumber(text) {
    var t = String(text).trim().replace(/[,\s]/g, "");
    var percent = /%$/.test(t);
    if (percent) t = t.slice(0, -1);
    if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return null;
    var n = parseFloat(t);
    return percent ? n / 100 : n;
  }

  function compare(op, a, b) {
    switch (op) {
      case ">": return a > b;
      case ">=": return a >= b;
      case "<": return a < b;
      case "<=": return a <= b;
      case "!=": return a !== b;
      default: return a === b;
    }
  }

  // A predicate over (raw value, shown text in lower case), or null when the text is not a
  // valid filter for this type (the box turns red and filters nothing).
  function makeFilter(type, text) {
    text = text.trim();
    if (!text) return function () { return true; };
    var m, lo, hi;
    if (type === "num") {
      if ((m = RANGE.exec(text)) && (lo = parseNumber(m[1])) !== null && (hi = parseNumber(m[2])) !== null) {
        return function (raw) { var v = parseFloat(raw); return raw !== "" && v >= lo && v <= hi; };
      }
      m = OP.exec(text);
      var op = m ? m[1] : "=";
      var bound = parseNumber(m ? m[2] : text);
      if (bound === null) return null;
      return function (raw) { return raw !== "" && !isNaN(parseFloat(raw)) && compare(op, parseFloat(raw), bound); };
    }
    if (type === "date") {
      if ((m = RANGE.exec(text)) && /^\d{4}/.test(m[1]) && /^\d{4}/.test(m[2])) {
        lo = m[1]; hi = m[2];
        return function (raw) { return raw !== "" && raw >= lo && raw.slice(0, hi.length) <= hi; };
      }
      if ((m = OP.exec(text))) {
        var when = m[2].trim(), dop = m[1];
        // compare at the operand's precision: ">2026-09-15" means after that day
        return function (raw) { return raw !== "" && compare(dop, raw.slice(0, when.length), when); };
      }
    }
    var needle = text.toLowerCase();
    if (needle.charAt(0) === "=" && needle.length > 1) {
      var exact = needle.slice(1).trim();
      return function (raw, shown) { return shown === exact; };
    }
    if (needle.charAt(0) === "!" && needle.length > 1) {
      var not = needle.slice(1);
      return function (raw, shown) { return shown.indexOf(not) === -1; };
    }
    return function (raw, shown) { return shown.indexOf(needle) !== -1; };
  }

  // ---- tables -------------------------------------------------------------------------
  // Rows come as JSON (per cell: text, or [text, raw], or [text, raw, href]); sorting and
  // filtering work on arrays and only the current page is put in the DOM, so tables of a few
  // thousand rows stay fast.
  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(text) { return String(text).replace(/[&<>"']/g, function (c) { return ESCAPES[c]; }); }

  function initTable(table) {
    var wrap = table.closest(".bt-wrap");
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var types = heads.map(function (th) { return th.getAttribute("data-type") || "text"; });
    var kinds = heads.map(function (th) { return th.getAttribute("data-kind") || "text"; });
    var tbody = table.tBodies[0];
    var source = wrap.querySelector("script.bt-data");
    var rows = (source ? JSON.parse(source.textContent) : []).map(function (cells, index) {
      var text = [], raw = [], href = [], shown = [];
      cells.forEach(function (cell) {
        var t = Array.isArray(cell) ? cell[0] : cell;
        text.push(t);
        raw.push(Array.isArray(cell) ? cell[1] : t);
        href.push(Array.isArray(cell) && cell.length > 2 ? cell[2] : null);
        shown.push(String(t).toLowerCase());
      });
      return { index: index, text: text, raw: raw, href: href, shown: shown, all: null };
    });
    var numbers = rows.map(function (row) {
      return row.raw.map(function (v, col) { return types[col] === "num" && v !== "" ? parseFloat(v) : null; });
    });
    var search = wrap.querySelector(".bt-search");
    var count = wrap.querySelector(".bt-count");
    var pager = wrap.querySelector(".bt-pager");
    var sizeSelect = wrap.querySelector(".bt-size");
    var filterInputs = Array.prototype.slice.call(table.querySelectorAll(".bt-filter"));
    var filters = heads.map(function () { return null; });
    var ordered = rows.slice();   // rows in the current sort order
    var visible = ordered;        // ... that pass the search and the filters
    var sortState = { col: -1, dir: 0 };
    var pageIndex = 0;

    function pageSize() { var n = sizeSelect ? parseInt(sizeSelect.value, 10) : 100; return n > 0 ? n : Infinity; }

    // a finding's daily events as a small inline SVG; the cell text is the counts, space separated
    function sparkline(text) {
      if (!text) return "";
      var values = String(text).split(" ").map(Number), max = Math.max.apply(null, values.concat([1]));
      var w = 120, h = 22, step = values.length > 1 ? (w - 2) / (values.length - 1) : 0, total = 0;
      var points = values.map(function (v, i) {
        total += v;
        return (1 + i * step).toFixed(1) + "," + (h - 2 - (v / max) * (h - 4)).toFixed(1);
      });
      return '<svg class="spark" width="' + w + '" height="' + h + '" viewBox="0 0 ' + w + " " + h +
        '" data-points="' + values.length + '" data-values="' + esc(values.join(" ")) + '" role="img" aria-label="' +
        total + " events over " + values.length + ' days"><title>' + total + " events over " + values.length +
        " days (max " + Math.max.apply(null, values) + ' a day)</title><polyline fill="none" points="' + points.join(" ") + '"></polyline></svg>';
    }

    function renderRow(row) {
      var html = "<tr>";
      for (var c = 0; c < row.text.length; c++) {
        var text = row.text[c], raw = row.raw[c];
        html += '<td class="k-' + kinds[c] + '"';
        if (raw !== text || types[c] !== "text") html += ' data-v="' + esc(raw) + '"';
        if (String(text).length > 36) html += ' title="' + esc(text) + '"';
        if (kinds[c] === "spark") { html += ">" + sparkline(text) + "</td>"; continue; }
        html += ">" + (row.href[c] ? '<a href="' + esc(row.href[c]) + '">' + esc(text) + "</a>" : esc(text)) + "</td>";
      }
      return html + "</tr>";
    }

    function render() {
      var size = pageSize();
      var pages = Math.max(1, Math.ceil(visible.length / size));
      pageIndex = Math.min(pageIndex, pages - 1);
      var start = size === Infinity ? 0 : pageIndex * size;
      var slice = size === Infinity ? visible : visible.slice(start, start + size);
      tbody.innerHTML = slice.map(renderRow).join("");
      var total = rows.length.toLocaleString("en-US");
      count.textContent = visible.length === rows.length ? total + " rows"
        : visible.length.toLocaleString("en-US") + " of " + total + " rows";
      table.setAttribute("data-shown", String(visible.length));
      if (pager) {
        pager.hidden = rows.length <= 25;
        pager.querySelector(".bt-page").textContent = visible.length
          ? (start + 1).toLocaleString("en-US") + "–" + (start + slice.length).toLocaleString("en-US") + " of " + visible.length.toLocaleString("en-US")
          : "no rows";
        pager.querySelector(".bt-prev").disabled = pageIndex === 0;
        pager.querySelector(".bt-next").disabled = pageIndex >= pages - 1;
      }
    }

    function apply() {
      var needle = search ? search.value.trim().toLowerCase() : "";
      var active = filters.some(function (f) { return f !== null; });
      if (!needle && !active) {
        visible = ordered;
      } else {
        visible = ordered.filter(function (row) {
          if (needle) {
            if (row.all === null) row.all = row.shown.join("\u0001");
            if (row.all.indexOf(needle) === -1) return false;
          }
          for (var c = 0; c < filters.length; c++) {
            if (filters[c] && !filters[c](row.raw[c], row.shown[c])) return false;
          }
          return true;
        });
      }
      pageIndex = 0;
      render();
    }

    function order(col, dir) {
      var type = types[col];
      ordered = rows.slice();
      if (col >= 0) {
        ordered.sort(function (a, b) {
          var x, y, c;
          if (type === "num") {
            x = numbers[a.index][col]; y = numbers[b.index][col];
            if (x === null || isNaN(x)) return (y === null || isNaN(y)) ? a.index - b.index : 1; // empty last
            if (y === null || isNaN(y)) return -1;
            c = x - y;
          } else {
            x = a.raw[col]; y = b.raw[col];
            if (x === "") return y === "" ? a.index - b.index : 1;
            if (y === "") return -1;
            c = type === "date" ? (x < y ? -1 : x > y ? 1 : 0) : x.localeCompare(y, "en", { numeric: true, sensitivity: "base" });
          }
          return c !== 0 ? c * dir : a.index - b.index;
        });
      }
      heads.forEach(function (th, i) {
        th.setAttribute("aria-sort", i === col ? (dir > 0 ? "ascending" : "descending") : "none");
      });
      sortState = { col: col, dir: dir };
      apply();
    }

    heads.forEach(function (th, col) {
      var button = th.querySelector(".bt-sort");
      (button || th).addEventListener("click", function () {
        var dir = sortState.col === col ? -sortState.dir : (types[col] === "text" ? 1 : -1);
        order(col, dir);
      });
    });

    var timer = null;
    function later() { clearTimeout(timer); timer = setTimeout(apply, rows.length > 2000 ? 120 : 0); }
    filterInputs.forEach(function (input, col) {
      input.addEventListener("input", function () {
        var f = makeFilter(types[col], input.value);
        input.classList.toggle("invalid", f === null);
        filters[col] = f && input.value.trim() ? f : null;
        later();
      });
    });
    if (search) search.addEventListener("input", later);
    if (sizeSelect) sizeSelect.addEventListener("change", function () { pageIndex = 0; render(); });
    if (pager) {
      pager.querySelector(".bt-prev").addEventListener("click", function () { pageIndex -= 1; render(); });
      pager.querySelector(".bt-next").addEventListener("click", function () { pageIndex += 1; render(); });
    }
    var reset = wrap.querySelector(".bt-reset");
    if (reset) reset.addEventListener("click", function () {
      clearTimeout(timer);
      if (search) search.value = "";
      filterInputs.forEach(function (input) { input.value = ""; input.classList.remove("invalid"); });
      filters = heads.map(function () { return null; });
      order(-1, 0);
    });
    render();
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.bt"), initTable);

  // ---- copy buttons -------------------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll("button.copy"), function (button) {
    button.addEventListener("click", function () {
      var code = document.getElementById(button.getAttribute("data-copy"));
      var text = code ? code.textContent : "";
      var done = function () { button.textContent = "copied"; setTimeout(function () { button.textContent = "copy"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () {});
      } else if (code) {
        var range = document.createRange();
        range.selectNodeContents(code);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
      }
    });
  });

  // ---- plays: a link to #play-N opens that play (they are closed <details>) --------------
  function openLinkedPlay() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "DETAILS") target.open = true;
  }
  window.addEventListener("hashchange", openLinkedPlay);
  openLinkedPlay();

  // ---- charts -------------------------------------------------------------------------
  // no mode bar: it covered the top of the charts (axis titles, legend); zoom still works by dragging
  var figures = JSON.parse(document.getElementById("beton-figures").textContent);
  var pending = [];
  Array.prototype.forEach.call(document.querySelectorAll("[data-figure]"), function (el) {
    var figure = figures[el.getAttribute("data-figure")];
    if (!figure || typeof Plotly === "undefined") return;
    pending.push(Plotly.newPlot(el, figure.data, figure.layout, { displaylogo: false, displayModeBar: false, responsive: true }));
  });
  Promise.all(pending).then(function () {
    document.body.setAttribute("data-charts-ready", String(pending.length));
  });
})();
