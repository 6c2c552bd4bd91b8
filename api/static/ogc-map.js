// Shows the page's features on a map with no basemap (the service works offline).
(function () {
  const data = JSON.parse(document.getElementById("features").textContent);
  const bounds = [180, 90, -180, -90];
  const extend = (c) => {
    if (typeof c[0] === "number") {
      bounds[0] = Math.min(bounds[0], c[0]); bounds[1] = Math.min(bounds[1], c[1]);
      bounds[2] = Math.max(bounds[2], c[0]); bounds[3] = Math.max(bounds[3], c[1]);
    } else { c.forEach(extend); }
  };
  data.features.forEach((f) => f.geometry && extend(f.geometry.coordinates));
  const map = new maplibregl.Map({
    container: "map",
    style: { version: 8, sources: {}, layers: [{ id: "bg", type: "background", paint: { "background-color": "#f4f1ea" } }] },
    bounds: bounds[0] <= bounds[2] ? [[bounds[0], bounds[1]], [bounds[2], bounds[3]]] : [[120, 29], [121, 31]],
    fitBoundsOptions: { padding: 20 },
  });
  map.on("load", () => {
    map.addSource("features", { type: "geojson", data });
    map.addLayer({ id: "fill", type: "fill", source: "features", filter: ["!=", ["geometry-type"], "Point"],
                   paint: { "fill-color": "#e07b39", "fill-opacity": 0.5 } });
    map.addLayer({ id: "line", type: "line", source: "features", filter: ["!=", ["geometry-type"], "Point"],
                   paint: { "line-color": "#7a3b10", "line-width": 1 } });
    map.addLayer({ id: "point", type: "circle", source: "features", filter: ["==", ["geometry-type"], "Point"],
                   paint: { "circle-color": "#23415a", "circle-radius": 4 } });
  });
})();
