/* closeloop behaviour and churn-risk page: filters in the URL, three ECharts charts and the at-risk table.
 * Plain ES2017, no build step. Reads its configuration (language, texts) from the JSON script
 * #behaviour-config; draws with the vendored Apache ECharts (window.echarts). */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("behaviour-config").textContent);
  var filters = window.closeloopFilters;
  var isoDate = filters.isoDate, percent = filters.percent;
  var T = config.texts;
  var FILTER_KEYS = ["range", "channel", "tier", "days", "sort"];
  var PRESETS = ["30", "90", "180"];
  var PAGE = 50;
  var REDUCED_MOTION = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var charts = {};
  var risk = { offset: 0 };

  // --- the URL is the state ---------------------------------------------------------------------------

  function readState() {
    var query = new URLSearchParams(window.location.search);
    var state = {};
    FILTER_KEYS.forEach(function (key) { state[key] = query.get(key) || ""; });
    if (PRESETS.indexOf(state.range) < 0) state.range = "90";
    if (!/^\d+$/.test(state.days)) state.days = String(config.default_days);
    if (!state.sort) state.sort = "score";
    return state;
  }

  function stateUrl(state) {
    var query = new URLSearchParams();
    query.set("lang", config.lang);
    FILTER_KEYS.forEach(function (key) { if (state[key]) query.set(key, state[key]); });
    return window.location.pathname + "?" + query.toString();
  }

  /** The API parameters of a state (a preset range becomes a since date). */
  function apiParams(state) {
    var params = new URLSearchParams();
    var since = new Date();
    since.setDate(since.getDate() - Number(state.range));
    params.set("since", isoDate(since));
    params.set("days", state.days);
    ["channel", "tier"].forEach(function (key) { if (state[key]) params.set(key, state[key]); });
    return params;
  }

  function fillForm(state) { filters.fillForm(FILTER_KEYS, state); }

  function formState() { return filters.formState(FILTER_KEYS); }

  // --- helpers ----------------------------------------------------------------------------------------

  function toPercent(share) {
    return share === null || share === undefined ? null : Math.round(1000 * share) / 10;
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function setStatus(text) { document.getElementById("bh-status").textContent = text; }

  function showError(text) {
    var box = document.getElementById("bh-error");
    box.textContent = text;
    box.hidden = !text;
  }

  async function getJson(url) {
    var response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(T.behaviour_failed + " (" + response.status + ")");
    return response.json();
  }

  function draw(id, option) {
    if (!charts[id]) {
      charts[id] = window.echarts.init(document.getElementById(id), null, {
        renderer: "canvas",
        locale: config.lang === "zh" ? "ZH" : "EN",
      });
    }
    option.animation = !REDUCED_MOTION;
    charts[id].setOption(option, true);
  }

  // --- charts -----------------------------------------------------------------------------------------

  function renderFeatures(data) {
    var rows = data.features || [];
    var names = rows.map(function (r) { return r.feature; });
    draw("chart-features", {
      tooltip: {
        trigger: "axis", axisPointer: { type: "shadow" },
        formatter: function (items) {
          var r = rows[items[0].dataIndex];
          return r.feature + "<br>" + T.behaviour_customers + ": " + r.customers + "<br>" +
            T.behaviour_complaint_rate + ": " + percent(r.complaint_rate) + " (" + r.complaints + "/" + r.analysed + ")<br>" +
            T.behaviour_negative_share + ": " + percent(r.negative_share);
        },
      },
      legend: { top: 0 },
      grid: { left: 100, right: 50, top: 30, bottom: 24 },
      yAxis: { type: "category", data: names, inverse: true },
      xAxis: { type: "value", name: "%", min: 0, max: 100 },
      series: [
        { id: "complaint_rate", name: T.behaviour_complaint_rate, type: "bar", itemStyle: { color: "#d64545" },
          data: rows.map(function (r) { return toPercent(r.complaint_rate); }),
          label: { show: true, position: "right", formatter: function (p) { return percent(rows[p.dataIndex].complaint_rate); } } },
        { id: "negative_share", name: T.behaviour_negative_share, type: "bar", itemStyle: { color: "#dd8a3e" },
          data: rows.map(function (r) { return toPercent(r.negative_share); }) },
      ],
    });
    var overall = data.customers_overall || {};
    document.getElementById("note-features").textContent = rows.length
      ? T.behaviour_overall + ": " + T.behaviour_complaint_rate + " " + percent(overall.complaint_rate)
      : T.behaviour_no_data;
    var box = document.getElementById("chart-features");
    box.dataset.values = JSON.stringify(rows.map(function (r) { return [r.feature, r.complaint_rate]; }));
  }

  function renderFrequency(data) {
    var rows = data.frequency || [];
    draw("chart-frequency", {
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var r = rows[items[0].dataIndex];
          return format(T.behaviour_bucket, { bucket: r.bucket }) + "<br>NPS: " + (r.nps === null ? "–" : r.nps) +
            " (" + r.nps_responses + ")<br>" + T.behaviour_customers + ": " + r.customers;
        },
      },
      legend: { top: 0 },
      grid: { left: 44, right: 44, top: 34, bottom: 28 },
      xAxis: { type: "category", data: rows.map(function (r) { return format(T.behaviour_bucket, { bucket: r.bucket }); }) },
      yAxis: [
        { type: "value", name: "NPS", min: -100, max: 100 },
        { type: "value", name: T.behaviour_customers, minInterval: 1 },
      ],
      series: [
        { id: "nps", name: "NPS", type: "bar", itemStyle: { color: "#2563eb" },
          data: rows.map(function (r) { return r.nps; }),
          label: { show: true, position: "top", formatter: function (p) { return p.value === null ? "" : p.value; } } },
        { id: "customers", name: T.behaviour_customers, type: "line", yAxisIndex: 1, itemStyle: { color: "#7b8794" },
          data: rows.map(function (r) { return r.customers; }) },
      ],
    });
    var answers = rows.reduce(function (n, r) { return n + r.nps_responses; }, 0);
    document.getElementById("note-frequency").textContent = answers ? "" : T.behaviour_no_data;
    document.getElementById("chart-frequency").dataset.values = JSON.stringify(rows.map(function (r) { return [r.bucket, r.nps]; }));
  }

  function renderSpend(data) {
    var spend = data.spend || { currencies: [] };
    var rows = spend.currencies || [];
    draw("chart-spend", {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 60, right: 16, top: 34, bottom: 28 },
      xAxis: { type: "category", data: rows.map(function (r) { return r.currency; }) },
      yAxis: { type: "value" },
      series: [
        { id: "before", name: format(T.behaviour_before, { days: spend.days }), type: "bar", itemStyle: { color: "#5b8def" },
          data: rows.map(function (r) { return r.avg_before; }) },
        { id: "after", name: format(T.behaviour_after, { days: spend.days }), type: "bar", itemStyle: { color: "#d64545" },
          data: rows.map(function (r) { return r.avg_after; }) },
      ],
    });
    var note = format(T.behaviour_spend_note, { customers: spend.customers, pending: spend.pending, days: spend.days });
    document.getElementById("note-spend").textContent = rows.length ? note : T.behaviour_no_data + " · " + note;
    document.getElementById("chart-spend").dataset.values = JSON.stringify(rows);
  }

  // --- the at-risk table ------------------------------------------------------------------------------

  function cell(row, content) {
    var td = document.createElement("td");
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    row.appendChild(td);
    return td;
  }

  function scoreBadge(score) {
    var span = document.createElement("span");
    span.className = "score " + (score >= 60 ? "high" : score >= 35 ? "medium" : "low");
    span.textContent = String(score);
    return span;
  }

  function reasonList(reasons) {
    var list = document.createElement("ul");
    reasons.forEach(function (reason) {
      var item = document.createElement("li");
      item.textContent = config.lang === "zh" ? reason.zh : reason.en;
      item.dataset.code = reason.code;
      list.appendChild(item);
    });
    return list;
  }

  function historyLink(customer) {
    var link = document.createElement("a");
    link.href = "/customers/" + encodeURIComponent(customer.external_id) + "/history?lang=" + config.lang;
    link.textContent = T.behaviour_view_feedback;
    link.className = "history-link";
    return link;
  }

  function appendCustomers(body, page) {
    var tbody = document.querySelector("#risk-table tbody");
    body.customers.forEach(function (c) {
      var row = document.createElement("tr");
      row.dataset.customer = c.external_id;
      cell(row, c.external_id).className = "customer";
      cell(row, c.tier || "–");
      cell(row, scoreBadge(c.score));
      cell(row, reasonList(c.reasons));
      cell(row, c.activity_previous + " → " + c.activity_recent);
      cell(row, c.spend ? c.spend.toFixed(2) + " " + body.currency : "–");
      cell(row, historyLink(c));
      tbody.appendChild(row);
    });
    document.getElementById("risk-total").textContent = format(T.behaviour_total, { total: body.total });
    document.getElementById("risk-empty").hidden = body.total > 0;
    risk.offset = page.offset + body.customers.length;
    document.getElementById("risk-more").hidden = risk.offset >= body.total;
  }

  async function loadRisk(state, reset) {
    if (reset) {
      risk.offset = 0;
      document.querySelector("#risk-table tbody").textContent = "";
    }
    var params = apiParams(state);
    params.set("sort", state.sort);
    params.set("limit", String(PAGE));
    params.set("offset", String(risk.offset));
    var body = await getJson("/api/v1/insight/at-risk?" + params.toString());
    appendCustomers(body, { offset: risk.offset });
  }

  function setDownloads(state) {
    var params = apiParams(state);
    ["csv", "xlsx"].forEach(function (fmt) {
      params.set("format", fmt);
      document.getElementById("bh-" + fmt).href = "/api/v1/insight/behaviour?" + params.toString();
      var riskParams = new URLSearchParams(params);
      riskParams.set("sort", state.sort);
      document.getElementById("risk-" + fmt).href = "/api/v1/insight/at-risk?" + riskParams.toString();
    });
  }

  async function load(state) {
    setStatus(T.behaviour_loading);
    showError("");
    setDownloads(state);
    try {
      var figures = await getJson("/api/v1/insight/behaviour?" + apiParams(state).toString());
      renderFeatures(figures);
      renderFrequency(figures);
      renderSpend(figures);
      await loadRisk(state, true);
      setStatus("");
      document.body.dataset.loaded = "true";
    } catch (error) {
      setStatus("");
      showError(error.message);
    }
  }

  // --- wiring -----------------------------------------------------------------------------------------

  var state = readState();
  fillForm(state);
  document.getElementById("bh-filters").addEventListener("submit", function (event) {
    event.preventDefault();
    state = formState();
    state.sort = document.getElementById("f-sort").value;
    window.history.pushState(null, "", stateUrl(state));
    load(state);
  });
  document.getElementById("f-sort").addEventListener("change", function () {
    state = formState();
    window.history.replaceState(null, "", stateUrl(state));
    setDownloads(state);
    loadRisk(state, true).catch(function (error) { showError(error.message); });
  });
  document.getElementById("risk-more").addEventListener("click", function () {
    loadRisk(state, false).catch(function (error) { showError(error.message); });
  });
  window.addEventListener("popstate", function () { state = readState(); fillForm(state); load(state); });
  window.addEventListener("resize", function () { Object.keys(charts).forEach(function (id) { charts[id].resize(); }); });
  load(state);
})();
