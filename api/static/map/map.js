/* The landgis web map: MapLibre GL JS over our own tiles; every request goes to this service. */
(function () {
  "use strict";

  var ORDER = { "宗地": 2, "专题": 3, "方案": 4, "区域": 5 };
  // plans: the caller's saved plans (GET /plans); plan: the one the map shows,
  // { id, name, parcels: { parcel id: properties from GET /plans/{id}/parcels } }, or null.
  var state = { layers: [], basemaps: [], basemap: null, crs: "wgs84", map: null, popup: null,
    plans: [], plan: null, candidateRequest: null };
  // What the plan layers' popup attributes are called (layers/plan_*.yaml, `popup`).
  var ATTRIBUTE_LABELS = { reasons: "入选原因", area_mu: "入选时面积（亩）", parcels: "宗地数" };

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

  function fmt(value, digits) {
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "number") return value.toLocaleString("zh-CN", { maximumFractionDigits: digits === undefined ? 2 : digits });
    return String(value);
  }

  // The page runs in the signed-in session: the cookie goes with every request (same origin);
  // writes carry the session's CSRF token, read from GET /auth/me at start.
  var session = { csrf: null, role: null, roleLabel: null };
  // Roles that may run a candidate selection and save it as a plan (api.deps.PlannerDep).
  var CANDIDATE_ROLES = ["admin", "planner"];
  // Colours of a run's result on the map (a saved plan's layers: layers/plan_*.yaml).
  var CANDIDATE_FILL = "#00e5ff";
  var CANDIDATE_BLOCK_LINE = "#006064";

  function toLogin() {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  }

  function request(url, options) {
    var opts = Object.assign({ credentials: "same-origin" }, options || {});
    var headers = Object.assign({ "Accept": "application/json" }, opts.headers || {});
    if (opts.method && opts.method !== "GET" && session.csrf) headers["X-CSRF-Token"] = session.csrf;
    opts.headers = headers;
    return fetch(url, opts).then(function (r) {
      if (r.status === 401) { toLogin(); throw new Error("请先登录"); }
      return r;
    });
  }

  function getJSON(url, options) {
    return request(url, options).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          var err = new Error(body.detail || ("HTTP " + r.status));
          err.status = r.status;
          throw err;
        });
      }
      return r.json();
    });
  }

  // Layers drawn for one saved plan (?plan_id=); the plan picker adds and removes them.
  function isPlanLayer(layer) {
    return !!(layer.params && layer.params.length === 1 && layer.params[0] === "plan_id");
  }

  // A layer is on offer when its source exists and it needs no parameter the map cannot give.
  function usable(layer) {
    if (!layer.available) return false;
    if (!layer.params || !layer.params.length) return true;
    return isPlanLayer(layer) && state.plan !== null;
  }

  function tileUrls(layer) {
    var query = [];
    if (isPlanLayer(layer) && state.plan) query.push("plan_id=" + state.plan.id);
    if (state.crs === "gcj02" && layer.source.type === "vector") query.push("crs=gcj02");
    if (!query.length) return layer.source.tiles;
    return layer.source.tiles.map(function (u) { return u + (u.indexOf("?") >= 0 ? "&" : "?") + query.join("&"); });
  }

  function styleLayers(layer) {
    return layer.style.map(function (s) {
      var copy = JSON.parse(JSON.stringify(s));
      copy.layout = Object.assign({}, copy.layout || {}, { visibility: layer.visible ? "visible" : "none" });
      return copy;
    });
  }

  function sortedLayers() {
    return state.layers.filter(function (l) { return !l.basemap; }).sort(function (a, b) {
      return (ORDER[a.group] || 9) - (ORDER[b.group] || 9);
    });
  }

  function buildStyle() {
    var style = { version: 8, sources: {}, layers: [{ id: "background", type: "background", paint: { "background-color": "#eef1f3" } }] };
    state.basemaps.forEach(function (b) {
      if (!b.tiles.length) return;
      style.sources["basemap-" + b.id] = { type: "raster", tiles: b.tiles, tileSize: 256, maxzoom: 18 };
      style.layers.push({ id: "basemap-" + b.id, type: "raster", source: "basemap-" + b.id,
        layout: { visibility: b.id === state.basemap ? "visible" : "none" } });
    });
    sortedLayers().forEach(function (layer) {
      if (!usable(layer)) return; // plan layers need a plan id: the plan picker adds them
      style.sources[layer.id] = Object.assign({}, layer.source, { tiles: tileUrls(layer) });
      style.layers = style.layers.concat(styleLayers(layer));
    });
    return style;
  }

  function setLayerVisible(layer, visible) {
    layer.visible = visible;
    layer.style.forEach(function (s) {
      if (state.map.getLayer(s.id)) state.map.setLayoutProperty(s.id, "visibility", visible ? "visible" : "none");
    });
    renderLegend();
  }

  function renderLayerList() {
    var box = document.getElementById("layer-list");
    box.textContent = "";
    var groups = {};
    sortedLayers().forEach(function (layer) {
      (groups[layer.group] = groups[layer.group] || []).push(layer);
    });
    Object.keys(groups).forEach(function (g) {
      var wrap = el("div", { class: "layer-group" }, [el("div", { class: "title", text: g })]);
      groups[g].forEach(function (layer) {
        var on = usable(layer);
        var box = el("input", { type: "checkbox", "data-layer": layer.id });
        box.checked = on && layer.visible;
        box.disabled = !on;
        box.addEventListener("change", function () { setLayerVisible(layer, box.checked); });
        var label = el("label", { class: "layer-item" + (on ? "" : " unavailable"), title: layer.description || "" },
          [box, document.createTextNode(" " + layer.title)]);
        if (!layer.available) label.appendChild(el("div", { class: "reason", text: "（暂不可用：" + layer.reason + "）" }));
        else if (!on) label.appendChild(el("div", { class: "reason", text: "（在“方案”中选择已保存方案时显示）" }));
        wrap.appendChild(label);
      });
      box.appendChild(wrap);
    });
  }

  function renderLegend() {
    var box = document.getElementById("legend");
    box.textContent = "";
    sortedLayers().forEach(function (layer) {
      if (!layer.visible || !usable(layer) || !layer.legend.length) return;
      var block = el("div", { class: "legend-block" }, [el("div", { class: "name", text: layer.title })]);
      layer.legend.forEach(function (item) {
        var sw = el("span", { class: "swatch" });
        sw.style.background = item.color;
        block.appendChild(el("div", { class: "legend-row" }, [sw, el("span", { text: item.label })]));
      });
      box.appendChild(block);
    });
  }

  function renderBasemaps() {
    var select = document.getElementById("basemap-select");
    state.basemaps.forEach(function (b) {
      var opt = el("option", { value: b.id, text: b.title });
      select.appendChild(opt);
    });
    select.value = state.basemap;
    select.addEventListener("change", function () { chooseBasemap(select.value); });
  }

  function chooseBasemap(id) {
    var map = state.map;
    state.basemaps.forEach(function (b) {
      if (map.getLayer("basemap-" + b.id)) map.setLayoutProperty("basemap-" + b.id, "visibility", b.id === id ? "visible" : "none");
    });
    state.basemap = id;
    var chosen = state.basemaps.filter(function (b) { return b.id === id; })[0];
    var crs = chosen ? chosen.crs : "wgs84";
    if (crs !== state.crs) {
      // GCJ-02 basemaps: our vector tiles are shifted at the edge (?crs=gcj02), the data are not.
      state.crs = crs;
      sortedLayers().forEach(function (layer) {
        var src = map.getSource(layer.id);
        if (src && src.setTiles) src.setTiles(tileUrls(layer));
      });
    }
  }

  function popupHtml(d, extra) {
    var p = d.parcel;
    var latest = d.mu_by_year.length ? d.mu_by_year[d.mu_by_year.length - 1] : null;
    var rows = [
      ["宗地代码", p.zddm || p.zddm_raw],
      ["坐落", p.location],
      ["权利人", p.right_holder],
      ["面积", fmt(p.area_mu) + " 亩"],
      ["容积率", fmt(p.far)],
      ["更新状态", p.renewal_status_label || p.renewal_status],
      ["企业数", d.enterprises.length],
      ["亩均税收", latest ? fmt(latest.mu_tax) + " 万元/亩（" + latest.year + "年）" : "—"],
      ["亩均增加值", latest ? fmt(latest.mu_value_added) + " 万元/亩" : "—"]
    ].concat(extra || []);
    var table = el("table", {}, rows.map(function (r) {
      return el("tr", {}, [el("td", { text: r[0] }), el("td", { text: fmt(r[1]) })]);
    }));
    var link = el("a", { href: "/dossier/" + p.id, target: "_blank", class: "dossier-link", text: "查看一宗一档 →" });
    return el("div", { class: "popup" }, [el("h3", { text: "宗地 " + (p.zddm || p.id) }), table, link]);
  }

  // The rows a plan parcel adds to the parcel's popup: the plan and the layer's popup attributes.
  // The tile carries reasons from zoom 15 on only; the plan's GeoJSON has them at every zoom.
  function planRows(feature) {
    var layer = state.layers.filter(function (l) { return l.id === feature.source; })[0];
    if (!layer || !isPlanLayer(layer) || !state.plan) return [];
    var props = Object.assign({}, feature.properties, state.plan.parcels[feature.id] || {});
    return [["方案", state.plan.name]].concat((layer.popup || []).map(function (name) {
      var value = props[name];
      return [ATTRIBUTE_LABELS[name] || name, Array.isArray(value) ? value.join("；") : value];
    }));
  }

  function showParcel(id, lngLat, extra) {
    return getJSON("/parcels/" + id + "/dossier").then(function (d) {
      if (state.popup) state.popup.remove();
      var at = lngLat || d.centre;
      state.popup = new maplibregl.Popup({ maxWidth: "320px" }).setLngLat(at).setDOMContent(popupHtml(d, extra)).addTo(state.map);
      return d;
    }).catch(function (err) { alert("无法读取宗地信息：" + err.message); });
  }

  function clickableLayers() {
    var ids = [];
    sortedLayers().forEach(function (layer) {
      if (!(layer.group === "宗地" || isPlanLayer(layer)) || !usable(layer)) return;
      layer.style.forEach(function (s) { if (s.type === "fill" && state.map.getLayer(s.id)) ids.push(s.id); });
    });
    return ids;
  }

  function runSearch(q) {
    var list = document.getElementById("search-results");
    list.textContent = "";
    getJSON("/search?q=" + encodeURIComponent(q)).then(function (data) {
      if (!data.results.length) { list.appendChild(el("li", { text: "没有找到匹配的宗地" })); return; }
      data.results.forEach(function (r) {
        var li = el("li", { "data-parcel": r.id }, [
          el("div", { class: "code", text: r.zddm || r.zddm_raw || ("#" + r.id) }),
          el("div", { text: r.location || "" }),
          el("div", { class: "meta", text: (r.enterprises || r.right_holder || "") + " · " + fmt(r.area_mu) + " 亩 · " + r.renewal_status_label })
        ]);
        li.addEventListener("click", function () {
          state.map.fitBounds([[r.bbox[0], r.bbox[1]], [r.bbox[2], r.bbox[3]]], { padding: 80, maxZoom: 17, duration: 0 });
          showParcel(r.id, [r.lon, r.lat]);
        });
        list.appendChild(li);
      });
    }).catch(function (err) { list.appendChild(el("li", { text: err.message })); });
  }

  function message(id, text, ok) {
    var m = document.getElementById(id);
    m.textContent = text;
    m.className = "message" + (ok ? " ok" : "");
  }

  // --- candidate selection (POST /candidates; the evaluation module provides it) -------------
  function candidateMessage(text, ok) { message("candidate-message", text, ok); }

  function initCandidates() {
    var select = document.getElementById("candidate-preset");
    request("/candidates/presets").then(function (r) {
      if (r.status === 404) throw new Error("unavailable");
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      var presets = Array.isArray(data) ? data : (data.presets || []);
      presets.forEach(function (p) {
        var id = typeof p === "string" ? p : (p.id || p.name);
        select.appendChild(el("option", { value: id, text: (p.title || p.label || p.name || id) }));
      });
    }).catch(function (err) {
      document.getElementById("candidate-run").disabled = true;
      candidateMessage(err.message === "unavailable"
        ? "候选筛选服务尚未启用（亩均评价模块未部署）。"
        : "无法读取筛选规则：" + err.message, false);
    });
    document.getElementById("candidate-run").addEventListener("click", runCandidates);
    document.getElementById("plan-save-button").addEventListener("click", savePlan);
    if (CANDIDATE_ROLES.indexOf(session.role) < 0) {
      // POST /candidates and POST /plans need a planner: other roles see the rules, not the button
      document.getElementById("candidate-run").disabled = true;
      candidateMessage("候选地块筛选和保存方案需要规划人员或管理员角色（当前：" + (session.roleLabel || session.role) + "）。", false);
    }
  }

  function extentOf(collection) {
    var box = null;
    function walk(c) {
      if (typeof c[0] === "number") {
        if (!box) box = [c[0], c[1], c[0], c[1]];
        box = [Math.min(box[0], c[0]), Math.min(box[1], c[1]), Math.max(box[2], c[0]), Math.max(box[3], c[1])];
      } else c.forEach(walk);
    }
    ((collection && collection.features) || []).forEach(function (f) { if (f.geometry) walk(f.geometry.coordinates); });
    return box;
  }

  // The area of a candidate request: a 行政区划代码 (6, 9 or 12 digits), a 园区 id, or, when left
  // empty, the part of the county the map shows.
  function candidateArea() {
    var value = document.getElementById("candidate-area").value.trim();
    if (/^\d{6}(\d{3}(\d{3})?)?$/.test(value)) return { region_code: value };
    if (/^\d{1,5}$/.test(value)) return { zone_id: parseInt(value, 10) };
    if (value) throw new Error("区域应为行政区划代码 (6、9 或 12 位) 或园区编号");
    var b = state.map.getBounds();
    var w = b.getWest(), s = b.getSouth(), e = b.getEast(), n = b.getNorth();
    return { polygon: { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] } };
  }

  function runCandidates() {
    var area;
    try { area = candidateArea(); } catch (err) { candidateMessage(err.message, false); return; }
    var body = {
      preset: document.getElementById("candidate-preset").value,
      year: parseInt(document.getElementById("candidate-year").value, 10),
      area: area,
      blocks: {
        distance_m: parseFloat(document.getElementById("candidate-distance").value),
        min_block_mu: parseFloat(document.getElementById("candidate-min-mu").value)
      }
    };
    candidateMessage("正在筛选…", true);
    request("/candidates", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) {
        // The server's own message first (an unknown or out-of-scope 园区 is a 404 with a detail);
        // a 404 without one means the route itself is missing.
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) {
            throw new Error(data.detail || (r.status === 404 ? "候选筛选服务尚未启用（亩均评价模块未部署）。" : "HTTP " + r.status));
          }
          return data;
        });
      })
      .then(function (data) {
        state.candidateRequest = body; // what 保存为方案 saves: the request of the result shown
        showCandidates(data);
        document.getElementById("plan-save").hidden = false;
      })
      .catch(function (err) { candidateMessage(err.message, false); });
  }

  function showCandidates(data) {
    var map = state.map;
    [["candidates", data.parcels], ["candidate-blocks", data.blocks]].forEach(function (pair) {
      var src = map.getSource(pair[0]);
      if (src) src.setData(pair[1]); else map.addSource(pair[0], { type: "geojson", data: pair[1] });
    });
    if (!map.getLayer("candidates-fill")) {
      // cyan and dashed: the result of this run, apart from a saved plan (magenta, purple) and
      // from every colour of the status, class and 一码 legends
      map.addLayer({ id: "candidates-fill", type: "fill", source: "candidates", paint: { "fill-color": CANDIDATE_FILL, "fill-opacity": 0.5 } });
      map.addLayer({ id: "candidate-blocks-line", type: "line", source: "candidate-blocks", paint: { "line-color": CANDIDATE_BLOCK_LINE, "line-width": 3, "line-dasharray": [2, 1] } });
    }
    var box = extentOf(data.parcels);
    if (box) map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 60, maxZoom: 16, duration: 0 });
    var t = data.totals || {};
    var rows = [["候选宗地", fmt(t.count, 0) + " 宗"], ["面积", fmt(t.area_mu) + " 亩"], ["税收", fmt(t.tax_wan) + " 万元"], ["增加值", fmt(t.value_added_wan) + " 万元"],
      ["连片区块", fmt((data.blocks && data.blocks.features || []).length, 0) + " 片"]];
    var panel = document.getElementById("candidate-totals");
    panel.textContent = "";
    panel.appendChild(el("table", { class: "totals" }, rows.map(function (r) {
      return el("tr", {}, [el("td", { text: r[0] }), el("td", { text: r[1] })]);
    })));
    var fill = el("span", { class: "swatch" });
    fill.style.background = CANDIDATE_FILL;
    var outline = el("span", { class: "swatch dashed" });
    outline.style.borderColor = CANDIDATE_BLOCK_LINE;
    panel.appendChild(el("div", { class: "key" }, [
      fill, el("span", { text: "本次筛选的宗地" }), outline, el("span", { text: "本次连片区块（已保存方案另以紫红色显示）" })
    ]));
    candidateMessage("筛选完成。", true);
  }

  // Save the candidate result shown as a plan (POST /plans runs the same request again).
  function savePlan() {
    var name = document.getElementById("plan-name").value.trim();
    if (!name) { candidateMessage("请填写方案名称。", false); return; }
    candidateMessage("正在保存方案…", true);
    getJSON("/plans", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: name, request: state.candidateRequest }) })
      .then(function (plan) {
        candidateMessage("已保存方案“" + plan.name + "”（" + fmt(plan.parcels, 0) + " 宗）。", true);
        return loadPlans(plan.id);
      })
      .catch(function (err) { candidateMessage("方案未保存：" + err.message, false); });
  }

  // --- saved plans (GET /plans, in the caller's scope) drawn with the plan layers ------------
  function planLayers() {
    return sortedLayers().filter(function (l) { return l.available && isPlanLayer(l); });
  }

  function planLabel(p) {
    var parts = [fmt(p.parcels, 0) + " 宗"];
    // The totals are the selection's; a plan kept only its blocks' parcels when they differ.
    if (p.totals && p.totals.count === p.parcels && typeof p.totals.area_mu === "number") parts.push(fmt(p.totals.area_mu, 1) + " 亩");
    return p.name + "（" + parts.join(" · ") + "）";
  }

  // The first map layer drawn above `layer` in the switcher's order: `layer` goes below it.
  function layerAbove(layer) {
    var layers = sortedLayers(), ids = [];
    layers.slice(layers.indexOf(layer) + 1).forEach(function (l) {
      l.style.forEach(function (s) { if (state.map.getLayer(s.id)) ids.push(s.id); });
    });
    return ids[0];
  }

  // Draw saved plan `plan` (an item of GET /plans) in place of the one shown; null: no plan.
  function showPlan(plan) {
    var map = state.map;
    planLayers().forEach(function (layer) {
      layer.style.forEach(function (s) { if (map.getLayer(s.id)) map.removeLayer(s.id); });
      if (map.getSource(layer.id)) map.removeSource(layer.id);
    });
    state.plan = plan ? { id: plan.id, name: plan.name, parcels: {} } : null;
    if (state.plan) {
      planLayers().forEach(function (layer) {
        layer.visible = true; // choosing a plan is asking to see it
        map.addSource(layer.id, Object.assign({}, layer.source, { tiles: tileUrls(layer) }));
        var above = layerAbove(layer);
        styleLayers(layer).forEach(function (s) { map.addLayer(s, above); });
      });
    }
    renderLayerList();
    renderLegend();
    if (!state.plan) return;
    var shown = state.plan;
    getJSON("/plans/" + shown.id + "/parcels").then(function (collection) {
      if (state.plan !== shown) return; // another plan was chosen meanwhile
      collection.features.forEach(function (f) { shown.parcels[f.id] = f.properties; });
      var box = extentOf(collection);
      if (box) map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 60, maxZoom: 16, duration: 0 });
    }).catch(function (err) { message("plan-message", "无法读取方案宗地：" + err.message, false); });
  }

  function choosePlan(value) {
    message("plan-message", "", true);
    showPlan(state.plans.filter(function (p) { return String(p.id) === value; })[0] || null);
  }

  // Refill the picker; `chosen`: a plan id to select and draw (the others keep the current choice).
  function loadPlans(chosen) {
    var select = document.getElementById("plan-select");
    return getJSON("/plans").then(function (plans) {
      state.plans = plans;
      select.textContent = "";
      select.appendChild(el("option", { value: "", text: "不显示方案" }));
      plans.forEach(function (p) { select.appendChild(el("option", { value: String(p.id), text: planLabel(p) })); });
      select.value = String(chosen || (state.plan ? state.plan.id : ""));
      if (select.selectedIndex < 0) select.value = ""; // not (or no longer) listed in the caller's scope
      if (chosen) choosePlan(select.value);
    }, function (err) { message("plan-message", "无法读取已保存方案：" + err.message, false); });
  }

  function initPlans() {
    var select = document.getElementById("plan-select");
    if (!planLayers().length) {
      var missing = sortedLayers().filter(isPlanLayer)[0];
      select.disabled = true;
      message("plan-message", "方案图层暂不可用" + (missing ? "：" + missing.reason : "。"), false);
      return;
    }
    select.addEventListener("change", function () { choosePlan(select.value); });
    loadPlans(null);
  }

  function start(config, extent) {
    state.layers = config.layers;
    state.basemaps = config.basemaps;
    state.basemap = (state.basemaps[0] || { id: "none" }).id;
    var bounds = extent && extent.bounds ? [[extent.bounds[0], extent.bounds[1]], [extent.bounds[2], extent.bounds[3]]] : null;
    var map = new maplibregl.Map({
      container: "map",
      style: buildStyle(),
      bounds: bounds || undefined,
      center: bounds ? undefined : [120.6, 30.0],
      zoom: bounds ? undefined : 12,
      fitBoundsOptions: { padding: 20 },
      attributionControl: false,
      localIdeographFontFamily: "sans-serif"
    });
    state.map = map;
    window.landgisMap = map;
    map.addControl(new maplibregl.NavigationControl(), "top-right");
    map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
    map.on("click", function (e) {
      var hits = map.queryRenderedFeatures(e.point, { layers: clickableLayers() });
      if (hits.length && hits[0].id !== undefined) showParcel(hits[0].id, e.lngLat, planRows(hits[0]));
    });
    map.on("mousemove", function (e) {
      var hits = map.queryRenderedFeatures(e.point, { layers: clickableLayers() });
      map.getCanvas().style.cursor = hits.length ? "pointer" : "";
    });
    renderBasemaps();
    renderLayerList();
    renderLegend();
    initCandidates();
    map.on("load", initPlans); // plan layers are added to the loaded style
    document.getElementById("search-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var q = document.getElementById("search-input").value.trim();
      if (q.length >= 2) runSearch(q);
    });
  }

  getJSON("/auth/me").then(function (me) {
    session.csrf = me.csrf_token;
    session.role = me.role;
    session.roleLabel = me.role_label;
  }).then(function () {
    return Promise.all([
      getJSON("/maps/layers"),
      getJSON("/tiles/parcels_status/tilejson.json").catch(function () { return null; })
    ]);
  }).then(function (res) { start(res[0], res[1]); })
    .catch(function (err) { document.getElementById("map").textContent = "地图加载失败：" + err.message; });
})();
