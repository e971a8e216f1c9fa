// The pages work without this file; it adds the live queue (polls GET /v1/runs every 2 s)
// and sorting of the current leaderboard page by the columns the server does not sort by.
(function () {
  "use strict";

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    el.textContent = value;
    return el;
  }

  function runRow(r) {
    var tr = document.createElement("tr");
    tr.dataset.run = r.id;
    tr.appendChild(text("td", "#" + r.id, "num"));
    var arch = text("td", "", "num"), a = text("a", String(r.arch_index));
    a.href = "/web/archs/" + r.arch_index;
    arch.appendChild(a);
    tr.appendChild(arch);
    [r.dataset, r.scaling, r.protocol].forEach(function (v) { tr.appendChild(text("td", v)); });
    tr.appendChild(text("td", String(r.seed), "num"));
    var status = text("td", "");
    status.appendChild(text("span", r.status, "status status-" + r.status));
    if (r.served_from_run_id) {  // a dedup batch: this run follows another arch's run
      status.appendChild(document.createTextNode(" "));
      status.appendChild(text("span", "served from #" + r.served_from_run_id, "served"));
    }
    tr.appendChild(status);
    var cell = text("td", "", "progress-cell"), bar = text("span", "", "bar"), fill = text("span", "");
    fill.style.width = (r.progress.fraction * 100).toFixed(1) + "%";
    bar.appendChild(fill);
    cell.appendChild(bar);
    cell.appendChild(document.createTextNode(" "));
    cell.appendChild(text("span", r.progress.epoch + "/" + r.progress.total, "progress-text"));
    tr.appendChild(cell);
    tr.appendChild(text("td", r.updated_at.replace("T", " ").slice(0, 19)));
    return tr;
  }

  function pollQueue(table) {
    var state = document.getElementById("live-state");
    function tick() {
      fetch(table.dataset.source, { headers: { Accept: "application/json" } })
        .then(function (resp) { if (!resp.ok) throw new Error("HTTP " + resp.status); return resp.json(); })
        .then(function (data) {
          var body = table.tBodies[0];
          body.replaceChildren.apply(body, data.runs.map(runRow));
          if (!data.runs.length) {
            var tr = document.createElement("tr");
            tr.className = "empty-row";
            var td = text("td", "No runs yet.", "empty");
            td.colSpan = 9;
            tr.appendChild(td);
            body.appendChild(tr);
          }
          document.querySelectorAll("#counts [data-status]").forEach(function (el) {
            el.querySelector("b").textContent = data.counts[el.dataset.status] || 0;
          });
          state.textContent = "live: updated " + new Date().toLocaleTimeString();
          state.classList.remove("stale");
        })
        .catch(function (err) {
          state.textContent = "live: retrying (" + err.message + ")";
          state.classList.add("stale");
        })
        .finally(function () { setTimeout(tick, 2000); });
    }
    setTimeout(tick, 2000);
  }

  // Client-side sort of the rows on this page by a column the server has no sort for.
  function sortablePage(table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      if (th.querySelector("a.sort") || !th.classList.contains("num")) return;
      th.classList.add("client-sort");
      th.title = (th.title ? th.title + "; " : "") + "click to sort this page";
      th.addEventListener("click", function () {
        var desc = th.dataset.dir !== "desc";
        th.dataset.dir = desc ? "desc" : "asc";
        var rows = Array.prototype.slice.call(table.tBodies[0].rows);
        function key(row) {
          var t = row.cells[col] ? row.cells[col].textContent.replace(/[▲▼±].*$/, "").trim() : "";
          var n = parseFloat(t), unit = /G$/.test(t) ? 1e9 : /M$/.test(t) ? 1e6 : /k$/.test(t) ? 1e3 : 1;
          return isNaN(n) ? -Infinity : n * unit;
        }
        rows.sort(function (a, b) { return desc ? key(b) - key(a) : key(a) - key(b); });
        rows.forEach(function (r) { table.tBodies[0].appendChild(r); });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var queue = document.getElementById("queue");
    if (queue) pollQueue(queue);
    var board = document.getElementById("leaderboard");
    if (board && board.tBodies[0].rows.length > 1) sortablePage(board);
  });
})();
