// slt-bench report: sort a table by a clicked column header, and filter rows by the select boxes.
// Plain JavaScript, no library, so the page works from file:// with no network.
(function () {
  "use strict";

  function cellValue(row, index) {
    var cell = row.children[index];
    if (!cell) { return ""; }
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { raw = cell.textContent.trim(); }
    var number = parseFloat(raw);
    return raw !== "" && !isNaN(number) && isFinite(raw) ? number : raw.toLowerCase();
  }

  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") { return a - b; }
    if (typeof a === "number") { return -1; }
    if (typeof b === "number") { return 1; }
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function makeSortable(table) {
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (header, index) {
      header.addEventListener("click", function () {
        var ascending = header.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var order = compare(cellValue(r1, index), cellValue(r2, index));
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  function applyFilters(table, selects) {
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var show = selects.every(function (select) {
        var wanted = select.value;
        return wanted === "" || row.getAttribute("data-" + select.name) === wanted;
      });
      row.classList.toggle("hidden", !show);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.sortable").forEach(makeSortable);
    document.querySelectorAll("[data-filters-for]").forEach(function (form) {
      var table = document.getElementById(form.getAttribute("data-filters-for"));
      var selects = Array.prototype.slice.call(form.querySelectorAll("select"));
      selects.forEach(function (select) {
        select.addEventListener("change", function () { applyFilters(table, selects); });
      });
    });
  });
}());
