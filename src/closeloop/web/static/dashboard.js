/* closeloop insight dashboard: filters in the URL, KPI tiles, ECharts charts, drill-down and corrections.
 * Plain ES2017, no build step. Reads its configuration (language, texts, CSRF token, taxonomy) from the
 * JSON script #dashboard-config; draws with the vendored Apache ECharts (window.echarts). */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("dashboard-config").textContent);
  var filters = window.closeloopFilters;
  var isoDate = filters.isoDate, percent = filters.percent;
  var T = config.texts;
  var FILTER_KEYS = ["range", "since", "until", "granularity", "channel", "product", "category", "tier", "language"];
  var PRESETS = ["30", "90", "180"];
  var COLOURS = { positive: "#2f9e5b", neutral: "#a0aec0", negative: "#d64545", unanalysed: "#e4e7eb" };
  // For each KPI: is a rise good (true), bad (false) or neither (null)?
  var RISE_IS_GOOD = { volume: null, negative_share: false, complaint_rate: false, nps: true, csat: true };
  var SHARE_KPIS = { negative_share: true, complaint_rate: true };

  var charts = {};
  var overview = null;
  var drill = null; // {context, cursor}

  // --- the URL is the state ---------------------------------------------------------------------------

  /** The filter state from the page's URL, with defaults. */
  function readState() {
    var query = new URLSearchParams(window.location.search);
    var state = {};
    FILTER_KEYS.forEach(function (key) { state[key] = query.get(key) || ""; });
    if (!state.range) state.range = state.since || state.until ? "custom" : "90";
    if (["day", "week", "month"].indexOf(state.granularity) < 0) state.granularity = "week";
    return state;
  }

  /** The page URL for a state (only non-default values; lang kept). */
  function stateUrl(state) {
    var query = new URLSearchParams();
    query.set("lang", config.lang);
    FILTER_KEYS.forEach(function (key) {
      if (!state[key]) return;
      if ((key === "since" || key === "until") && state.range !== "custom") return;
      query.set(key, state[key]);
    });
    return window.location.pathname + "?" + query.toString();
  }

  /** The API's filter parameters for a state: presets become a since date, custom keeps since/until. */
  function apiFilters(state) {
    var params = new URLSearchParams();
    if (PRESETS.indexOf(state.range) >= 0) {
      var since = new Date();
      since.setDate(since.getDate() - Number(state.range));
      params.set("since", isoDate(since));
    } else {
      if (state.since) params.set("since", state.since);
      if (state.until) params.set("until", state.until);
    }
    ["channel", "product", "category", "tier", "language"].forEach(function (key) {
      if (state[key]) params.set(key, state[key]);
    });
    return params;
  }

  function formState() { return filters.formState(FILTER_KEYS); }

  function fillForm(state) {
    filters.fillForm(FILTER_KEYS, state);
    showCustomRange(state.range === "custom");
  }

  function showCustomRange(visible) {
    document.querySelectorAll("#dash-filters .custom-range").forEach(function (el) { el.hidden = !visible; });
  }

  // --- formatting -------------------------------------------------------------------------------------

  function kpiValue(key, value) {
    if (value === null || value === undefined) return "–";
    if (SHARE_KPIS[key]) return percent(value);
    if (key === "volume") return String(value);
    return Number(value).toFixed(1);
  }

  function kpiChange(key, change) {
    if (change === null || change === undefined) return { text: T.dash_no_previous, tone: "flat", arrow: "" };
    var arrow = change > 0 ? "▲" : change < 0 ? "▼" : "▶";
    var amount;
    if (SHARE_KPIS[key]) amount = (100 * Math.abs(change)).toFixed(1) + " " + T.dash_points;
    else if (key === "volume") amount = String(Math.abs(change));
    else amount = Math.abs(change).toFixed(1);
    var tone = "flat";
    if (change !== 0 && RISE_IS_GOOD[key] !== null) tone = (change > 0) === RISE_IS_GOOD[key] ? "good" : "bad";
    return { text: arrow + " " + amount + " " + T.dash_vs_previous, tone: tone, arrow: arrow };
  }

  function categoryName(id) {
    for (var i = 0; i < config.categories.length; i++) {
      var c = config.categories[i];
      if (c.id === id) return config.lang === "zh" ? c.name_zh : c.name_en;
    }
    return id;
  }

  function setStatus(text) { document.getElementById("dash-status").textContent = text; }

  function showError(text) {
    var box = document.getElementById("dash-error");
    box.textContent = text;
    box.hidden = !text;
  }

  async function getJson(url) {
    var response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(T.dash_failed + " (" + response.status + ")");
    return response.json();
  }

  // --- KPI tiles and charts ---------------------------------------------------------------------------

  function renderKpis(data) {
    Object.keys(RISE_IS_GOOD).forEach(function (key) {
      var tile = document.querySelector('.kpi[data-kpi="' + key + '"]');
      var value = data.totals[key];
      tile.querySelector(".value").textContent = kpiValue(key, value);
      tile.dataset.value = value === null || value === undefined ? "" : String(value);
      var change = kpiChange(key, data.change ? data.change[key] : null);
      var line = tile.querySelector(".change");
      line.textContent = change.text;
      line.className = "change " + change.tone;
    });
  }

  // People who ask their system for less motion get charts without animation.
  var REDUCED_MOTION = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function chart(id) {
    if (!charts[id]) {
      charts[id] = window.echarts.init(document.getElementById(id), null, {
        renderer: "canvas",
        locale: config.lang === "zh" ? "ZH" : "EN",
      });
      charts[id].on("click", function (params) { onChartClick(id, params); });
    }
    return charts[id];
  }

  /** Replace a chart's whole option (no merging with the previous filter's series). */
  function draw(id, option) {
    option.animation = !REDUCED_MOTION;
    chart(id).setOption(option, true);
  }

  function renderVolume(data) {
    var s = data.series;
    var unanalysed = s.volume.map(function (v, i) { return v - s.positive[i] - s.neutral[i] - s.negative[i]; });
    var series = ["negative", "neutral", "positive"].map(function (key) {
      return { id: key, name: T[key], type: "bar", stack: "volume", data: s[key], itemStyle: { color: COLOURS[key] } };
    });
    series.push({
      id: "unanalysed", name: T.dash_unanalysed, type: "bar", stack: "volume", data: unanalysed,
      itemStyle: { color: COLOURS.unanalysed },
    });
    draw("chart-volume", {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 34, bottom: 28 },
      xAxis: { type: "category", data: data.periods },
      yAxis: { type: "value", minInterval: 1 },
      series: series,
    });
    document.getElementById("chart-volume").dataset.values = JSON.stringify({ periods: data.periods, volume: s.volume });
  }

  function renderRates(data) {
    var s = data.series;
    var toPercent = function (v) { return v === null ? null : Math.round(1000 * v) / 10; };
    draw("chart-rates", {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 44, right: 44, top: 34, bottom: 28 },
      xAxis: { type: "category", data: data.periods },
      yAxis: [
        { type: "value", name: "%", min: 0, max: 100 },
        { type: "value", name: "NPS", min: -100, max: 100 },
      ],
      series: [
        { id: "complaint_rate", name: T.dash_complaint_rate, type: "line", data: s.complaint_rate.map(toPercent),
          itemStyle: { color: COLOURS.negative }, symbolSize: 8 },
        { id: "negative_share", name: T.dash_negative_share, type: "line", data: s.negative_share.map(toPercent),
          itemStyle: { color: "#dd8a3e" }, lineStyle: { type: "dashed" }, symbolSize: 6 },
        { id: "nps", name: "NPS", type: "line", yAxisIndex: 1, data: s.nps, itemStyle: { color: "#2563eb" },
          symbolSize: 8 },
      ],
    });
  }

  function renderCategories(data) {
    var rows = data.categories || [];
    var names = rows.map(function (c) { return config.lang === "zh" ? c.name_zh || c.id : c.name_en || c.id; });
    var negative = rows.map(function (c) { return sum(c.negative_series || []); });
    var other = rows.map(function (c, i) { return c.volume - negative[i]; });
    draw("chart-categories", {
      tooltip: {
        trigger: "axis", axisPointer: { type: "shadow" },
        formatter: function (items) {
          var c = rows[items[0].dataIndex];
          return names[items[0].dataIndex] + "<br>" + T.dash_volume + ": " + c.volume + "<br>" +
            T.dash_negative_share + ": " + percent(c.negative_share) + "<br>" +
            T.dash_complaint_rate + ": " + percent(c.complaint_rate);
        },
      },
      legend: { top: 0 },
      grid: { left: 90, right: 70, top: 30, bottom: 20 },
      yAxis: { type: "category", data: names, inverse: true },
      xAxis: { type: "value", minInterval: 1 },
      series: [
        { id: "negative", name: T.negative, type: "bar", stack: "c", data: negative, itemStyle: { color: COLOURS.negative } },
        {
          id: "other", name: T.dash_other, type: "bar", stack: "c", data: other, itemStyle: { color: "#5b8def" },
          label: {
            show: true, position: "right",
            formatter: function (p) { return rows[p.dataIndex].volume + " · " + percent(rows[p.dataIndex].negative_share); },
          },
        },
      ],
    });
    var values = {};
    rows.forEach(function (c) { values[c.id] = c.volume; });
    var box = document.getElementById("chart-categories");
    box.dataset.values = JSON.stringify(values);
    box.dataset.ids = JSON.stringify(rows.map(function (c) { return c.id; }));
  }

  function renderAspects(data) {
    var cells = [];
    (data.cells || []).forEach(function (row, y) {
      row.forEach(function (cell, x) {
        if (cell && cell.score !== null && cell.score !== undefined) {
          cells.push([x, y, Math.round(cell.score * 100) / 100, cell.positive + cell.neutral + cell.negative]);
        }
      });
    });
    draw("chart-aspects", {
      tooltip: {
        formatter: function (p) {
          return categoryName(data.rows[p.value[1]]) + " · " + data.columns[p.value[0]] + "<br>" +
            T.dash_score + ": " + p.value[2] + " (n=" + p.value[3] + ")";
        },
      },
      grid: { left: 90, right: 16, top: 10, bottom: 60 },
      xAxis: { type: "category", data: data.columns, splitArea: { show: true } },
      yAxis: { type: "category", data: (data.rows || []).map(categoryName), splitArea: { show: true } },
      visualMap: {
        min: -1, max: 1, dimension: 2, calculable: true, orient: "horizontal", left: "center", bottom: 0,
        itemHeight: 120,
        inRange: { color: [COLOURS.negative, "#f7f7f7", COLOURS.positive] },
      },
      series: [{ id: "aspects", type: "heatmap", data: cells, label: { show: cells.length <= 60 } }],
    });
    document.getElementById("chart-aspects").dataset.rows = JSON.stringify(data.rows || []);
    document.getElementById("chart-aspects").dataset.columns = JSON.stringify(data.columns || []);
  }

  function sum(values) { return values.reduce(function (a, b) { return a + b; }, 0); }

  function exportUrl(state) {
    // The export endpoint filters by one channel, product, language and the time range.
    var filters = apiFilters(state);
    var params = new URLSearchParams();
    ["since", "until", "channel", "product", "language"].forEach(function (key) {
      if (filters.get(key)) params.set(key, filters.get(key));
    });
    return "/api/v1/feedback/export?" + params.toString();
  }

  /** Fetch and draw everything for the URL's state. */
  async function load() {
    var state = readState();
    fillForm(state);
    var exportLink = document.getElementById("export");
    if (exportLink) exportLink.href = exportUrl(state);
    var params = apiFilters(state);
    params.set("granularity", state.granularity);
    var aspectParams = new URLSearchParams(params);
    aspectParams.set("by", "period");
    setStatus(T.dash_loading);
    showError("");
    document.body.dataset.loaded = "false";
    try {
      var results = await Promise.all([
        getJson("/api/v1/insight/overview?" + params.toString()),
        getJson("/api/v1/insight/aspects?" + aspectParams.toString()),
      ]);
      overview = results[0];
      renderKpis(overview);
      renderVolume(overview);
      renderRates(overview);
      renderCategories(overview);
      renderAspects(results[1]);
      setStatus(overview.totals.volume ? "" : T.dash_no_data);
    } catch (error) {
      setStatus("");
      showError(error.message);
    }
    document.body.dataset.loaded = "true";
    document.body.dataset.loads = String(Number(document.body.dataset.loads || 0) + 1);
  }

  // --- drill-down ---------------------------------------------------------------------------------------

  /** What a click on a chart element selects: {period, category, sentiment, label}. */
  function clickContext(chartId, params) {
    var periods = overview ? overview.periods : [];
    if (chartId === "chart-volume") {
      var sentiment = ["positive", "neutral", "negative"].indexOf(params.seriesId) >= 0 ? params.seriesId : "";
      return { period: periods[params.dataIndex], sentiment: sentiment, category: "", label: params.name };
    }
    if (chartId === "chart-rates") {
      return { period: periods[params.dataIndex], sentiment: "", category: "", label: params.name };
    }
    if (chartId === "chart-categories") {
      var row = overview.categories[params.dataIndex];
      return { period: "", category: row.id, sentiment: params.seriesId === "negative" ? "negative" : "",
               label: params.name };
    }
    if (chartId === "chart-aspects") {
      var rows = JSON.parse(document.getElementById("chart-aspects").dataset.rows);
      var columns = JSON.parse(document.getElementById("chart-aspects").dataset.columns);
      var category = rows[params.value[1]];
      return { period: columns[params.value[0]], category: category, sentiment: "",
               label: categoryName(category) + " · " + columns[params.value[0]] };
    }
    return null;
  }

  function onChartClick(chartId, params) {
    var context = clickContext(chartId, params);
    if (context) openDrill(context);
  }

  function verbatimUrl(context, cursor) {
    var state = readState();
    var params = apiFilters(state);
    params.set("granularity", state.granularity);
    if (context.period) params.set("period", context.period);
    if (context.category) params.set("category", context.category); // the clicked category replaces the filter
    if (context.sentiment) params.set("sentiment", context.sentiment);
    params.set("limit", "20");
    if (cursor) params.set("cursor", cursor);
    return "/api/v1/insight/verbatims?" + params.toString();
  }

  async function openDrill(context) {
    drill = { context: context, cursor: null };
    var panel = document.getElementById("drill");
    panel.hidden = false;
    var parts = [context.period ? T.dash_period + " " + context.period : T.dash_all_time];
    if (context.category) parts.push(categoryName(context.category));
    if (context.sentiment) parts.push(T[context.sentiment]);
    document.getElementById("drill-context").textContent = parts.join(" · ");
    document.getElementById("drill-items").textContent = "";
    await loadVerbatims(false);
  }

  async function loadVerbatims(more) {
    var list = document.getElementById("drill-items");
    var moreButton = document.getElementById("drill-more");
    var panel = document.getElementById("drill");
    panel.dataset.loaded = "false";
    try {
      var page = await getJson(verbatimUrl(drill.context, more ? drill.cursor : null));
      if (!more) list.textContent = "";
      page.items.forEach(function (item) { list.appendChild(verbatimElement(item)); });
      drill.cursor = page.next_cursor;
      moreButton.hidden = !page.next_cursor;
      document.getElementById("drill-total").textContent =
        page.total ? T.dash_total.replace("{n}", page.total) : T.dash_no_verbatims;
    } catch (error) {
      document.getElementById("drill-total").textContent = error.message;
    }
    panel.dataset.loaded = "true";
  }

  /** The effective analysis of a verbatim: labels applied when the API gives them. */
  function effectiveOf(item) {
    var e = item.effective || {};
    var a = item.analysis || {};
    return {
      sentiment: e.sentiment !== undefined ? e.sentiment : a.sentiment || null,
      complaint: e.complaint !== undefined ? e.complaint : a.complaint || false,
      categories: e.categories !== undefined ? e.categories || [] : a.categories || [],
    };
  }

  /** "2026-09-01 14:05" in the browser's time zone. */
  function localTime(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return String(iso || "");
    var time = String(date.getHours()).padStart(2, "0") + ":" + String(date.getMinutes()).padStart(2, "0");
    return isoDate(date) + " " + time;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text; // text, never HTML: verbatims are untrusted
    return node;
  }

  function verbatimElement(item) {
    var effective = effectiveOf(item);
    var li = el("li", "verbatim");
    li.dataset.id = String(item.id);
    li.appendChild(el("p", "text", item.text));
    var meta = [item.channel, localTime(item.created_at)];
    if (item.rating !== null && item.rating !== undefined) {
      meta.push(T.rating + " " + item.rating + (item.rating_scale ? "/" + item.rating_scale[1] : ""));
    }
    if (item.product) meta.push(item.product);
    li.appendChild(el("div", "muted meta", meta.join(" · ")));
    var tags = el("div", "analysis");
    if (effective.sentiment) tags.appendChild(el("span", "tag sentiment " + effective.sentiment, T[effective.sentiment]));
    if (effective.complaint) tags.appendChild(el("span", "tag negative", T.complaint));
    effective.categories.forEach(function (id) {
      var tag = el("span", "tag category", categoryName(id));
      tag.dataset.category = id;
      tags.appendChild(tag);
    });
    li.appendChild(tags);
    if (config.can_correct) li.appendChild(correctionForm(item, effective));
    return li;
  }

  function correctionForm(item, effective) {
    var wrap = el("div", "correct");
    var toggle = el("button", "correct-toggle", T.dash_correct);
    toggle.type = "button";
    var form = el("form", "correct-form");
    form.hidden = true;
    toggle.addEventListener("click", function () { form.hidden = !form.hidden; });

    var sentiment = el("select", "correct-sentiment");
    sentiment.name = "sentiment";
    sentiment.setAttribute("aria-label", T.sentiment || "sentiment");
    config.sentiments.forEach(function (value) {
      var option = el("option", null, T[value]);
      option.value = value;
      option.selected = value === effective.sentiment;
      sentiment.appendChild(option);
    });
    form.appendChild(sentiment);

    var fieldset = el("fieldset", "correct-categories");
    var known = config.categories.map(function (c) { return c.id; });
    var choices = config.categories.slice();
    effective.categories.forEach(function (id) {
      if (known.indexOf(id) < 0) choices.push({ id: id, name_zh: id, name_en: id });
    });
    choices.forEach(function (c) {
      var label = el("label");
      var box = el("input");
      box.type = "checkbox";
      box.name = "categories";
      box.value = c.id;
      box.checked = effective.categories.indexOf(c.id) >= 0;
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + (config.lang === "zh" ? c.name_zh : c.name_en)));
      fieldset.appendChild(label);
    });
    form.appendChild(fieldset);

    var save = el("button", "correct-save", T.save);
    save.type = "submit";
    form.appendChild(save);
    var message = el("span", "correct-message");
    form.appendChild(message);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      saveCorrection(item, effective, form, message);
    });
    wrap.appendChild(toggle);
    wrap.appendChild(form);
    return wrap;
  }

  function sameSet(a, b) {
    return a.length === b.length && a.every(function (x) { return b.indexOf(x) >= 0; });
  }

  async function saveCorrection(item, effective, form, message) {
    var body = {};
    var sentiment = form.querySelector(".correct-sentiment").value;
    if (sentiment !== effective.sentiment) body.sentiment = sentiment;
    var categories = Array.prototype.map.call(
      form.querySelectorAll("input[name=categories]:checked"), function (box) { return box.value; });
    if (!sameSet(categories, effective.categories)) body.categories = categories;
    if (!Object.keys(body).length) {
      message.textContent = T.dash_nothing_changed;
      return;
    }
    if (config.author) body.author = config.author;
    message.className = "correct-message";
    message.textContent = T.dash_loading;
    try {
      var response = await fetch("/api/v1/feedback/" + encodeURIComponent(item.id) + "/labels", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrf_token },
        body: JSON.stringify(body),
      });
      if (!response.ok) {
        var detail = "";
        try { detail = (await response.json()).detail; } catch (ignored) { detail = ""; }
        throw new Error(T.dash_save_failed + " (" + response.status + ")" +
          (typeof detail === "string" && detail ? ": " + detail : ""));
      }
    } catch (error) {
      message.className = "correct-message failed";
      message.textContent = error.message;
      return;
    }
    // The aggregates honour labels: redraw the charts and the list so the correction shows.
    await load();
    await loadVerbatims(false);
    document.getElementById("drill-message").textContent = T.dash_saved;
  }

  // --- wiring -------------------------------------------------------------------------------------------

  document.getElementById("dash-filters").addEventListener("submit", function (event) {
    event.preventDefault();
    var url = stateUrl(formState());
    if (url !== window.location.pathname + window.location.search) window.history.pushState(null, "", url);
    load();
  });
  document.getElementById("f-range").addEventListener("change", function (event) {
    showCustomRange(event.target.value === "custom");
  });
  window.addEventListener("popstate", load);
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (id) { charts[id].resize(); });
  });
  document.getElementById("drill-close").addEventListener("click", function () {
    document.getElementById("drill").hidden = true;
    document.getElementById("drill-message").textContent = "";
  });
  document.getElementById("drill-more").addEventListener("click", function () { loadVerbatims(true); });

  // For tests and power users: the chart instances (e.g. to find a bar's pixel position).
  window.closeloopDashboard = { charts: charts, reload: load, openDrill: openDrill };
  // An alert's link ends in #drill: after the first load, open the verbatims behind the filtered view.
  load().then(function () {
    if (window.location.hash !== "#drill") return;
    var state = readState();
    openDrill({ period: "", category: state.category, sentiment: "", label: "" });
  });
})();
