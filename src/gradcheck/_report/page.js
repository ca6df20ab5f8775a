// Draws the heatmaps of the gradcheck HTML report from the inline JSON, and shows a tooltip per cell.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("gradcheck-data").textContent);
  const SAFETY = data.safety;
  const tip = document.getElementById("tip");
  // The legend's gradient in the stylesheet uses the same colours.
  const CALM = [238, 243, 238], NOISE = [178, 216, 178], BORDER = [246, 196, 80];
  const WRONG = [229, 83, 61], VERY_WRONG = [110, 10, 10], KINK = [120, 144, 196];
  const clamp = (t) => Math.min(1, Math.max(0, t));
  const mix = (a, b, t) => a.map((x, k) => Math.round(x + (b[k] - x) * clamp(t)));

  function colour(s) {
    if (s < 0) return KINK;
    if (s <= 1) return mix(CALM, NOISE, (Math.log10(Math.max(s, 1e-3)) + 3) / 3);
    if (s <= SAFETY) return mix(NOISE, BORDER, Math.log(s) / Math.log(SAFETY));
    return mix(WRONG, VERY_WRONG, Math.log10(s / SAFETY) / 6);
  }

  function componentName(t, index) {
    if (t.shape.length === 0) return t.name;
    const parts = [];
    for (let axis = t.shape.length - 1; axis >= 0; axis--) {
      parts.unshift(index % t.shape[axis]);
      index = Math.floor(index / t.shape[axis]);
    }
    return t.name + "[" + parts.join(", ") + "]";
  }

  function describe(t, k) {
    const s = t.s[k];
    const block = t.block[0] * t.block[1] > 1 ? "worst of a " + t.block.join("×") + " block\n" : "";
    if (s === null) return block + "not checked";
    const verdict = s < 0 ? "kink (left out of the verdict)" : s > SAFETY ? "WRONG" : "ok";
    const ratio = s < 0 ? "" : "\n|error| / estimated error " + (s >= 1e300 ? "∞" : s.toPrecision(3));
    return block + componentName(t, t.i[k]) + "  " + verdict +
      "\nanalytic  " + t.a[k].toExponential(6) + "\nnumerical " + t.n[k].toExponential(6) + ratio;
  }

  function draw(canvas, t) {
    const cell = Math.max(2, Math.min(28, Math.floor(560 / t.columns), Math.floor(420 / t.rows)));
    const gap = cell >= 6 ? 1 : 0;
    // Small matrices get their row and column numbers, so "row 2 is wrong" can be read off.
    const labelled = cell >= 14 && t.block[0] * t.block[1] === 1 && t.shape.length === 2;
    const left = labelled ? 6 + 7 * String(t.rows - 1).length : 0, top = labelled ? 14 : 0;
    const width = left + t.columns * cell, height = top + t.rows * cell;
    const ratio = window.devicePixelRatio || 1;
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    canvas.width = Math.ceil(width * ratio);
    canvas.height = Math.ceil(height * ratio);
    const context = canvas.getContext("2d");
    context.scale(ratio, ratio);
    if (labelled) {
      context.fillStyle = "#66707a";
      context.font = "10px system-ui, sans-serif";
      context.textAlign = "right";
      context.textBaseline = "middle";
      for (let r = 0; r < t.rows; r++) context.fillText(String(r), left - 4, top + r * cell + cell / 2);
      context.textAlign = "center";
      context.textBaseline = "alphabetic";
      for (let c = 0; c < t.columns; c++) context.fillText(String(c), left + c * cell + cell / 2, top - 3);
    }
    for (let r = 0; r < t.rows; r++) {
      for (let c = 0; c < t.columns; c++) {
        const k = r * t.columns + c;
        if (!t.p[k]) continue;
        const x = left + c * cell, y = top + r * cell, w = cell - gap;
        if (t.s[k] === null) {
          context.strokeStyle = "#aab";
          context.strokeRect(x + 0.5, y + 0.5, Math.max(w - 1, 1), Math.max(w - 1, 1));
          continue;
        }
        const rgb = colour(t.s[k]);
        context.fillStyle = "rgb(" + rgb.join(",") + ")";
        context.fillRect(x, y, w, w);
      }
    }
    canvas.addEventListener("mousemove", (event) => {
      const box = canvas.getBoundingClientRect();
      const c = Math.floor((event.clientX - box.left - left) / cell);
      const r = Math.floor((event.clientY - box.top - top) / cell);
      const k = r * t.columns + c;
      if (r < 0 || c < 0 || r >= t.rows || c >= t.columns || !t.p[k]) { tip.hidden = true; return; }
      tip.textContent = describe(t, k);
      tip.style.left = event.clientX + 14 + "px";
      tip.style.top = event.clientY + 14 + "px";
      tip.hidden = false;
    });
    canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
    canvas.dataset.drawn = "true";
  }

  document.querySelectorAll("canvas.heatmap").forEach((canvas) => draw(canvas, data.tensors[Number(canvas.dataset.tensor)]));
})();
