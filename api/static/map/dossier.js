/* 一宗一档: one parcel's file, from GET /parcels/{id}/dossier (all data come from this service). */
(function () {
  "use strict";

  var LABELS = [
    ["zddm", "宗地代码"], ["zddm_raw", "宗地代码（原始）"], ["bdcdyh", "不动产单元号"], ["location", "坐落"],
    ["right_holder", "权利人"], ["area_mu", "面积（亩）"], ["area_m2", "面积（平方米）"], ["declared_area_m2", "登记面积（平方米）"],
    ["land_use_code", "用途代码"], ["land_use_system", "用途分类体系"], ["far", "容积率"], ["far_agreed_raw", "约定容积率"],
    ["building_coverage", "建筑密度"], ["floor_area_m2", "建筑面积（平方米）"], ["building_safety_grade", "房屋安全等级"],
    ["supply_method", "供地方式"], ["is_standard_land", "标准地"], ["contract_no", "电子监管号/合同号"], ["contract_date", "合同签订日期"],
    ["land_price_wan", "土地价款（万元）"], ["agreed_start_date", "约定开工"], ["actual_start_date", "实际开工"],
    ["agreed_completion_date", "约定竣工"], ["actual_completion_date", "实际竣工"], ["agreed_production_date", "约定投产"],
    ["actual_production_date", "实际投产"], ["renewal_status_label", "更新状态"], ["region_code", "行政区划代码"],
    ["source", "数据来源"], ["updated_at", "最后更新"]
  ];
  var SUPPLY = { transfer: "出让", allocation: "划拨", lease: "租赁", capital: "作价出资", other: "其他" };
  var SCALE = { above: "规上", below: "规下" };
  var TENURE = { own: "自有", lease: "租赁" };
  var CLASS_NAMES = { A: "A 优先发展类", B: "B 提升发展类", C: "C 调控帮扶类", D: "D 倒逼整治类" };
  var FIELD_NAMES = { renewal_status: "更新状态", far: "容积率", geom: "几何", location: "坐落", right_holder: "权利人",
    land_area_mu: "用地面积", area_mu: "面积（亩）", area_m2: "面积（平方米）", zone_id: "所属园区", tenure: "使用方式" };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || v === "") return "—";
    if (typeof v === "boolean") return v ? "是" : "否";
    if (typeof v === "number") return v.toLocaleString("zh-CN", { maximumFractionDigits: digits === undefined ? 2 : digits });
    return String(v);
  }
  function row(cells, header) {
    return el("tr", {}, cells.map(function (c) {
      var num = typeof c === "number";
      return el(header ? "th" : "td", { class: num ? "num" : "", text: header ? c : fmt(c) });
    }));
  }
  function show(id) { document.getElementById(id).hidden = false; }

  var id = parseInt(location.pathname.split("/").pop(), 10);

  function renderAttributes(d) {
    var p = d.parcel;
    var table = document.getElementById("attributes");
    var extra = [["所属乡镇（街道）", d.region_name], ["所属园区", d.zone ? d.zone.name + "（" + d.zone.code + "）" : null]];
    LABELS.forEach(function (pair) {
      var v = p[pair[0]];
      if (pair[0] === "supply_method") v = SUPPLY[v] || v;
      if (pair[0] === "far_agreed_raw" && (p.far_min !== null || p.far_max !== null)) v = (v || "") + "（下限 " + fmt(p.far_min) + "，上限 " + fmt(p.far_max) + "）";
      table.appendChild(el("tr", {}, [el("td", { class: "k", text: pair[1] }), el("td", { text: fmt(v) })]));
      if (pair[0] === "right_holder") extra.forEach(function (e) {
        table.appendChild(el("tr", {}, [el("td", { class: "k", text: e[0] }), el("td", { text: fmt(e[1]) })]));
      });
    });
    document.getElementById("qr").src = "/parcels/" + id + "/qr.svg";
    document.getElementById("title").textContent = "一宗一档 · " + (p.zddm || p.zddm_raw || ("宗地 " + id));
    document.title = "一宗一档 " + (p.zddm || id);
    show("summary");
  }

  function chart(canvas, years, series) {
    if (!window.Chart) return;
    new Chart(canvas, {
      type: "bar",
      data: { labels: years, datasets: series },
      options: { responsive: true, animation: false, plugins: { legend: { position: "bottom" } },
        scales: { y: { beginAtZero: true } } }
    });
  }

  function renderMu(d) {
    if (!d.mu_by_year.length) return;
    var years = d.mu_by_year.map(function (m) { return String(m.year); });
    chart(document.getElementById("mu-chart"), years, [
      { label: "亩均税收（万元/亩）", data: d.mu_by_year.map(function (m) { return m.mu_tax; }), backgroundColor: "#1a4d7a" },
      { label: "亩均增加值（万元/亩）", data: d.mu_by_year.map(function (m) { return m.mu_value_added; }), backgroundColor: "#66a61e" }
    ]);
    var t = document.getElementById("mu-table");
    t.appendChild(row(["年度", "企业数", "税收（万元）", "增加值（万元）", "面积（亩）", "亩均税收", "亩均增加值"], true));
    d.mu_by_year.forEach(function (m) { t.appendChild(row([String(m.year), m.enterprises, m.tax_wan, m.value_added_wan, m.land_mu, m.mu_tax, m.mu_value_added])); });
    show("mu-section");
  }

  function renderEnterprises(d) {
    var box = document.getElementById("enterprises");
    if (!d.enterprises.length) { box.appendChild(el("p", { class: "note", text: "本宗地没有登记用地企业。" })); show("enterprise-section"); return; }
    d.enterprises.forEach(function (e, i) {
      var block = el("div", { class: "enterprise", "data-enterprise": e.id }, [
        el("h3", { text: e.name }),
        el("div", { class: "note", text: "统一社会信用代码 " + fmt(e.uscc) + " · " + (SCALE[e.scale] || "—") + " · 行业 " + fmt(e.industry_code) +
          " · " + (TENURE[e.tenure] || "") + " · 用地 " + (e.land_area_mu === null ? "整宗" : fmt(e.land_area_mu) + " 亩") })
      ]);
      var figures = e.figures || [];
      if (figures.length) {
        var canvas = el("canvas", { height: "90", id: "enterprise-chart-" + i });
        block.appendChild(el("div", { class: "chart-box" }, [canvas]));
        var t = el("table", { class: "grid" }, [row(["年度", "税收（万元）", "增加值（万元）", "营业收入（万元）", "能耗（吨标煤）", "职工（人）", "用电（千瓦时）"], true)]);
        figures.forEach(function (f) { t.appendChild(row([String(f.year), f.tax_wan, f.value_added_wan, f.revenue_wan, f.energy_tce, f.employees, f.electricity_kwh])); });
        block.appendChild(t);
        box.appendChild(block);
        chart(canvas, figures.map(function (f) { return String(f.year); }), [
          { label: "税收（万元）", data: figures.map(function (f) { return f.tax_wan; }), backgroundColor: "#1a4d7a" },
          { label: "增加值（万元）", data: figures.map(function (f) { return f.value_added_wan; }), backgroundColor: "#66a61e" }
        ]);
      } else {
        box.appendChild(block);
      }
    });
    show("enterprise-section");
  }

  function renderEvaluation(d) {
    var box = document.getElementById("evaluation");
    show("evaluation-section");
    if (!d.evaluation || !d.evaluation.classes.length) {
      box.appendChild(el("p", { class: "note", text: "暂无亩均效益评价数据。" }));
      return;
    }
    var t = el("table", { class: "grid" }, [row(["年度", "评价分类", "亩均税收（万元/亩）", "亩均增加值（万元/亩）"], true)]);
    d.evaluation.classes.forEach(function (c) {
      var tr = row([String(c.year), CLASS_NAMES[c["class"]] || c["class"], c.mu_tax, c.mu_value_added]);
      tr.children[1].className = "class-" + c["class"];
      t.appendChild(tr);
    });
    box.appendChild(t);
    var latest = d.evaluation.classes[d.evaluation.classes.length - 1];
    if (latest.run_id === undefined || latest.run_id === null) return;
    d.enterprises.forEach(function (e) {
      fetch("/evaluations/" + latest.run_id + "/enterprises/" + e.id + "/explain").then(function (r) {
        if (!r.ok) return null;
        return r.json();
      }).then(function (x) { if (x) box.appendChild(renderExplain(e, x)); }).catch(function () { return null; });
    });
  }

  function renderExplain(e, x) {
    var wrap = el("div", { class: "enterprise" }, [el("h3", { text: e.name + " · 逐项得分" })]);
    var items = x.indicators || x.items || [];
    var t = el("table", { class: "grid" }, [row(["指标", "数值", "基准值", "权重", "得分", "说明"], true)]);
    items.forEach(function (i) {
      t.appendChild(row([i.label || i.name || i.indicator, i.value, i.benchmark, i.weight, i.score, i.note || i.explanation || ""]));
    });
    wrap.appendChild(t);
    if (x.total !== undefined || x.score !== undefined) wrap.appendChild(el("p", { text: "总分 " + fmt(x.total !== undefined ? x.total : x.score) + (x["class"] ? "，分类 " + (CLASS_NAMES[x["class"]] || x["class"]) : "") }));
    return wrap;
  }

  function renderTimeline(d) {
    var list = document.getElementById("timeline");
    d.status_timeline.forEach(function (s) {
      var text = s.event === "入库" ? "入库，状态：" + fmt(s.status_label) : "状态变更：" + fmt(d.status_labels[s.from] || s.from) + " → " + fmt(s.status_label);
      list.appendChild(el("li", {}, [el("div", { class: "when", text: s.at.replace("T", " ").slice(0, 19) + " · " + s.actor }), el("div", { text: text })]));
    });
    list.appendChild(el("li", {}, [el("div", { class: "when", text: "当前" }), el("div", { text: "当前状态：" + fmt(d.parcel.renewal_status_label) })]));
    show("timeline-section");
  }

  function describe(h) {
    if (h.action === "insert") return "新增" + (h.table_name === "occupancy" ? "用地关系" : "宗地");
    if (h.action === "delete") return "删除" + (h.table_name === "occupancy" ? "用地关系" : "宗地");
    return Object.keys(h.changes).map(function (k) {
      var c = h.changes[k];
      var name = FIELD_NAMES[k] || k;
      if (typeof c === "string") return name + c;
      return name + "：" + fmt(c.old) + " → " + fmt(c["new"]);
    }).join("；");
  }

  function renderHistory(d) {
    var t = document.getElementById("history");
    t.appendChild(row(["时间", "操作人", "内容", "来源"], true));
    d.history.forEach(function (h) {
      t.appendChild(row([h.occurred_at.replace("T", " ").slice(0, 19), h.actor, describe(h), h.source_name || (h.batch_id ? "批次 " + h.batch_id : "")]));
    });
    show("history-section");
  }

  fetch("/parcels/" + id + "/dossier").then(function (r) {
    return r.json().then(function (body) { if (!r.ok) throw new Error(body.detail || ("HTTP " + r.status)); return body; });
  }).then(function (d) {
    document.getElementById("loading").remove();
    renderAttributes(d);
    renderMu(d);
    renderEnterprises(d);
    renderEvaluation(d);
    renderTimeline(d);
    renderHistory(d);
    document.body.setAttribute("data-ready", "1");
  }).catch(function (err) {
    document.getElementById("loading").textContent = "无法加载：" + err.message;
  });
})();
