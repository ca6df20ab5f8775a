// Hover details for the gradcheck report's heatmaps (drawn as SVG without this script: it only
// adds to what is already readable). Works for every report in the document (a notebook holds
// many), each once, each with the data it carries.
"use strict";
(function () {
  function componentName(t, index) {
    if (t.shape.length === 0) return t.name;
    const parts = [];
    for (let axis = t.shape.length - 1; axis >= 0; axis--) {
      parts.unshift(index % t.shape[axis]);
      index = Math.floor(index / t.shape[axis]);
    }
    return t.name + "[" + parts.join(", ") + "]";
  }

  function describe(t, k, safety) {
    const s = t.s[k];
    const block = t.block[0] * t.block[1] > 1 ? "worst of a " + t.block.join("×") + " block\n" : "";
    if (s === null) return block + "not checked";
    const verdict = s < 0 ? "kink (left out of the verdict)" : s > safety ? "WRONG" : "ok";
    const ratio = s < 0 ? "" : "\n|error| / estimated error " + (s >= 1e300 ? "∞" : s.toPrecision(3));
    return block + componentName(t, t.i[k]) + "  " + verdict +
      "\nanalytic  " + t.a[k].toExponential(6) + "\nnumerical " + t.n[k].toExponential(6) + ratio;
  }

  function hover(svg, t, tip, safety) {
    const left = Number(svg.dataset.left), top = Number(svg.dataset.top), cell = Number(svg.dataset.cell);
    svg.addEventListener("mousemove", (event) => {
      const box = svg.getBoundingClientRect(), scale = box.width / svg.viewBox.baseVal.width || 1;
      const c = Math.floor(((event.clientX - box.left) / scale - left) / cell);
      const r = Math.floor(((event.clientY - box.top) / scale - top) / cell);
      const k = r * t.columns + c;
      if (r < 0 || c < 0 || r >= t.rows || c >= t.columns || !t.p[k]) { tip.hidden = true; return; }
      tip.textContent = describe(t, k, safety);
      tip.style.left = event.clientX + 14 + "px";
      tip.style.top = event.clientY + 14 + "px";
      tip.hidden = false;
    });
    svg.addEventListener("mouseleave", () => { tip.hidden = true; });
    svg.dataset.hover = "true";
  }

  document.querySelectorAll(".gradcheck:not([data-enhanced])").forEach((root) => {
    const source = root.querySelector("script.gradcheck-data");
    if (!source) return;
    const data = JSON.parse(source.textContent), tip = root.querySelector(".tip");
    root.querySelectorAll("svg.heatmap").forEach((svg) => hover(svg, data.tensors[Number(svg.dataset.tensor)], tip, data.safety));
    root.setAttribute("data-enhanced", "");
  });
})();
