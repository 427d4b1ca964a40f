// The upload page: pick or drop an image, POST it to /api/ocr, draw the boxes, list the lines.
(function () {
  "use strict";
  const input = document.getElementById("image-input");
  const drop = document.getElementById("drop-zone");
  const button = document.getElementById("recognise");
  const form = document.getElementById("ocr-form");
  const statusEl = document.getElementById("status");
  const output = document.getElementById("output");
  const canvas = document.getElementById("preview");
  const list = document.getElementById("lines");
  const timing = document.getElementById("timing");
  const fileName = document.getElementById("file-name");
  let file = null;

  // Offer page mode only when the server has a page pipeline.
  fetch("/api/health").then((r) => r.json()).then((h) => {
    if (!h.page_mode) {
      const mode = document.getElementById("mode");
      mode.value = "line";
      mode.querySelector('option[value="page"]').disabled = true;
    }
  }).catch(() => {});

  function setFile(f) {
    file = f || null;
    button.disabled = !file;
    fileName.textContent = file ? file.name : "";
    statusEl.textContent = "";
    statusEl.className = "";
  }

  input.addEventListener("change", () => setFile(input.files[0]));
  drop.addEventListener("click", (e) => { if (e.target !== input) input.click(); });
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("drag"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("drag"); }));
  drop.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) setFile(e.dataTransfer.files[0]); });

  function drawResult(img, lines) {
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    ctx.lineWidth = Math.max(2, img.naturalWidth / 400);
    ctx.strokeStyle = "#e0245e";
    lines.forEach((ln) => {
      const b = ln.box;
      ctx.beginPath();
      ctx.moveTo(b[0][0], b[0][1]);
      for (let i = 1; i < 4; i++) ctx.lineTo(b[i][0], b[i][1]);
      ctx.closePath();
      ctx.stroke();
    });
    canvas.dataset.boxes = String(lines.length);
  }

  function listLines(lines) {
    list.innerHTML = "";
    lines.forEach((ln) => {
      const li = document.createElement("li");
      const pct = Math.round(ln.confidence * 100);
      const text = document.createElement("div");
      text.className = "line-text";
      text.textContent = ln.text;
      const bar = document.createElement("div");
      bar.className = "bar" + (pct < 50 ? " low" : "");
      bar.setAttribute("role", "meter");
      bar.setAttribute("aria-label", "confidence");
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "100");
      bar.setAttribute("aria-valuenow", String(pct));
      bar.title = "confidence " + pct + "%";
      const fill = document.createElement("span");
      fill.style.width = pct + "%";
      bar.appendChild(fill);
      li.appendChild(text);
      li.appendChild(bar);
      list.appendChild(li);
    });
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!file) return;
    button.disabled = true;
    statusEl.className = "";
    statusEl.textContent = "Recognising…";
    const body = new FormData();
    body.append("image", file);
    body.append("mode", document.getElementById("mode").value);
    body.append("decoder", document.getElementById("decoder").value);
    try {
      const resp = await fetch("/api/ocr", { method: "POST", body });
      const data = await resp.json();
      if (!data.success) throw new Error(data.error.message + " (" + data.error.code + ")");
      const url = URL.createObjectURL(file);
      const img = new Image();
      img.onload = () => { drawResult(img, data.text); URL.revokeObjectURL(url); };
      img.src = url;
      listLines(data.text);
      timing.textContent = "(" + data.text.length + (data.text.length === 1 ? " line, " : " lines, ") + data.total_time_ms + " ms)";
      output.hidden = false;
      statusEl.textContent = "Done.";
    } catch (err) {
      statusEl.className = "error";
      statusEl.textContent = "Error: " + err.message;
    } finally {
      button.disabled = !file;
    }
  });
})();
