"use strict";
// The page's only script: reads the model's description, checks the texts, calls the API.
const $ = (id) => document.getElementById(id);
const form = $("form"), textarea = $("texts"), message = $("message"), results = $("results");
const keyRow = $("key-row"), keyInput = $("api-key"), submit = $("submit");
let limits = null;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function say(text) {
  message.textContent = text;
  message.hidden = !text;
}

const percent = (p) => (100 * p).toFixed(1) + "%";
const number = (n) => n.toLocaleString("en");

function showModel(info) {
  limits = info.limits;
  $("limits").textContent = `Up to ${number(limits.max_batch_size)} texts of at most ` +
    `${number(limits.max_text_chars)} characters each.`;
  const version = info.version, rows = [
    ["Version", version.md5],
    ["dvc.lock", version.dvc_lock_md5 === null ? "not found"
      : version.dvc_lock_md5 === version.md5 ? "matches" : `differs (${version.dvc_lock_md5})`],
    ["Git revision", version.git_revision || "unknown"],
    ["Labels", info.labels.join(", ")],
  ];
  const metrics = info.metrics;
  if (metrics) {
    rows.push(["Test accuracy", metrics.accuracy.toFixed(3)],
              ["Test macro-F1", metrics.macro_f1.toFixed(3)]);
  } else {
    rows.push(["Test metrics", "none recorded for this model"]);
  }
  const list = $("model");
  list.replaceChildren(...rows.flatMap(([name, value]) => [element("dt", "", name),
                                                           element("dd", "", value)]));
  if (metrics && metrics.per_class) {
    const body = $("test-metrics").querySelector("tbody");
    body.replaceChildren(...Object.entries(metrics.per_class).map(([label, m]) => {
      const row = element("tr");
      row.append(element("th", "", label), element("td", "", m.precision.toFixed(3)),
                 element("td", "", m.recall.toFixed(3)), element("td", "", m.f1.toFixed(3)),
                 element("td", "", number(m.support)));
      row.firstChild.scope = "row";
      return row;
    }));
    $("test-metrics").hidden = false;
  }
}

function problem(lines) {
  if (lines.length === 0) return "Enter a text to score (one per line); the box is empty.";
  if (!limits) return "";
  if (lines.length > limits.max_batch_size) {
    return `${number(lines.length)} texts: the limit is ${number(limits.max_batch_size)} ` +
           "per request. Score them in parts.";
  }
  const long = lines.find((line) => line.text.length > limits.max_text_chars);
  if (long) {
    return `Line ${long.number} is ${number(long.text.length)} characters long: the limit is ` +
           `${number(limits.max_text_chars)}.`;
  }
  return "";
}

function showPredictions(lines, predictions) {
  results.replaceChildren(...predictions.map((prediction, index) => {
    const item = element("li", "result");
    const label = element("p", "label", "Label: ");
    label.append(element("strong", "", prediction.label));
    const bars = element("ul", "bars");
    for (const [name, p] of Object.entries(prediction.probabilities)) {
      const bar = element("li");
      const track = element("span", "track"), fill = element("span", "fill " + name);
      if (!["negative", "neutral", "positive"].includes(name)) fill.className = "fill other";
      fill.style.display = "block";
      fill.style.width = percent(p);
      track.append(fill);
      track.setAttribute("aria-hidden", "true");
      bar.append(element("span", "name", name), track, element("span", "pct", percent(p)));
      bars.append(bar);
    }
    item.append(element("p", "text", lines[index].text), label, bars);
    return item;
  }));
}

async function score(event) {
  event.preventDefault();
  const lines = textarea.value.split(/\r?\n/)
    .map((text, index) => ({ text, number: index + 1 }))
    .filter((line) => line.text.trim() !== "");
  const wrong = problem(lines);
  say(wrong);
  if (wrong) {
    textarea.focus();
    return;
  }
  const headers = { "content-type": "application/json" };
  if (keyInput.value) headers["X-API-Key"] = keyInput.value;
  submit.disabled = true;
  try {
    const response = await fetch("v1/predict", {
      method: "POST", headers, body: JSON.stringify({ texts: lines.map((line) => line.text) }),
    });
    const body = await response.json();
    if (response.status === 401) {
      keyRow.hidden = false;
      say(`This service requires an API key: ${body.detail}.`);
      keyInput.focus();
    } else if (!response.ok) {
      say(body.detail);
    } else {
      showPredictions(lines, body.predictions);
    }
  } catch (error) {
    say(`The service did not answer: ${error.message}`);
  } finally {
    submit.disabled = false;
  }
}

form.addEventListener("submit", score);
textarea.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
});
fetch("v1/model").then((response) => response.json()).then(showModel)
  .catch((error) => say(`Could not read the model's description: ${error.message}`));
