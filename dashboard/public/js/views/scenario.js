/**
 * One scenario: its steps as a graph with live counts for the chosen version, the funnel from
 * entry through each send to the goal, and its messages by channel and status.
 */
import { getAt } from "../api.js";
import { h } from "../dom.js";
import * as format from "../format.js";
import { scenarioGraph, stepOrder } from "../graph.js";
import { badge, channelStatusTable, figures, pageHeader, section, table } from "./parts.js";

/** Published versions never change, so each is fetched once per page load. */
const versionDocuments = new Map();

async function versionDocument(scenarioId, version) {
  const cacheKey = `${scenarioId}@${version}`;
  if (!versionDocuments.has(cacheKey)) {
    const answer = await getAt("/api/scenarios", scenarioId, "versions", String(version));
    versionDocuments.set(cacheKey, answer.document);
  }
  return versionDocuments.get(cacheKey);
}

export const scenarioView = {
  title: ({ detail }) => detail.name,

  async load({ id, version }) {
    const [detail, stats] = await Promise.all([
      getAt("/api/scenarios", id),
      getAt("/api/stats/scenarios", id),
    ]);
    const chosen = Number(version) || detail.currentVersion || null;
    const document = chosen ? await versionDocument(id, chosen) : detail.draft;
    return { detail, stats, version: chosen, document };
  },

  render({ detail, stats, version, document }) {
    const counts = (version && stats.funnel[version]) || {};
    const total = (metric) =>
      Object.values(counts).reduce((sum, stepCounts) => sum + (stepCounts[metric] ?? 0), 0);
    const failedByStep = {};
    for (const row of stats.messages) {
      if (row.status === "failed")
        failedByStep[row.stepId] = (failedByStep[row.stepId] ?? 0) + row.count;
    }

    return h(
      "div",
      { class: "page" },
      h(
        "nav",
        { class: "breadcrumb", "aria-label": "Breadcrumb" },
        h("a", { href: "#/scenarios" }, "Scenarios"),
        " / ",
        detail.id,
      ),
      pageHeader({
        title: detail.name,
        badges: [" ", badge(detail.status)],
        children: [about(document), versionPicker(detail, version)],
      }),
      figures(
        [
          { key: "entered", label: "Entered", value: format.count(total("entered")) },
          { key: "sent", label: "Sent", value: format.count(total("sent")) },
          { key: "suppressed", label: "Suppressed", value: format.count(total("suppressed")) },
          { key: "completed", label: "Completed", value: format.count(total("completed")) },
          {
            key: "converted",
            label: "Converted",
            value: document.goal ? format.count(total("converted")) : "—",
            note: document.goal
              ? format.percent(total("converted"), total("entered"))
              : "no goal in this scenario",
          },
        ],
        `Totals of ${version ? `version ${version}` : "the draft"}`,
      ),
      h(
        "div",
        { class: "scenario-layout" },
        h(
          "section",
          { class: "panel panel--graph", "aria-labelledby": "journey-title" },
          h(
            "h2",
            { id: "journey-title" },
            version ? `Journey · version ${version}` : "Journey · draft (not published)",
          ),
          h(
            "div",
            { class: "graph-scroll", tabindex: "0", "aria-label": "Scenario graph, scrollable" },
            scenarioGraph({ document, counts, failedByStep }),
          ),
        ),
        h(
          "div",
          { class: "side" },
          section("Funnel", funnel({ document, counts })),
          section(
            "Messages by channel and status",
            channelStatusTable({
              rows: stats.messages,
              caption: "Messages of this scenario by channel and status",
            }),
            stepMessages(stats.messages),
          ),
        ),
      ),
    );
  },
};

function about(document) {
  const facts = [
    ["Trigger", format.trigger(document.trigger)],
    document.audience ? ["Audience", format.condition(document.audience)] : null,
    ["Consent", document.consent ?? "—"],
    ["Re-entry", reentry(document.reentry)],
    document.exit?.length ? ["Exits on", document.exit.map(format.condition).join(", ")] : null,
    document.goal ? ["Goal", format.condition(document.goal)] : null,
    document.sendWindow
      ? [
          "Send window",
          `${document.sendWindow.from}–${document.sendWindow.to}${document.sendWindow.days ? ` ${document.sendWindow.days.join(" ")}` : ""}`,
        ]
      : null,
  ].filter(Boolean);
  return h(
    "dl",
    { class: "facts facts--inline" },
    facts.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))),
  );
}

function reentry(policy) {
  if (!policy) return "—";
  if (policy.policy === "after") return `again after ${format.duration(policy.after)}`;
  return policy.policy === "once" ? "once per contact" : "every time";
}

function versionPicker(detail, version) {
  const versions = [...(detail.versions ?? [])].sort((a, b) => b.version - a.version);
  if (!versions.length) return h("p", { class: "hint" }, "Not published yet: showing the draft.");
  return h(
    "p",
    { class: "version-picker" },
    h("label", { for: "version" }, "Version"),
    h(
      "select",
      { id: "version", "data-action": "choose-version", "data-scenario": detail.id },
      versions.map((entry) =>
        h(
          "option",
          { value: entry.version, selected: entry.version === version },
          `v${entry.version}${entry.version === detail.currentVersion ? " (current)" : ""} · published ${format.dateTime(entry.publishedAt)}`,
        ),
      ),
    ),
  );
}

/** Entered, then the sends in reading order, then the goal; bars are shares of the largest. */
function funnel({ document, counts }) {
  const entered = Object.values(counts).reduce((sum, c) => sum + (c.entered ?? 0), 0);
  const rows = [{ key: "entered", label: "Entered", value: entered }];
  for (const stepId of stepOrder(document)) {
    const step = document.steps[stepId];
    if (step.type !== "send") continue;
    rows.push({
      key: stepId,
      label: `${stepId} · ${step.channel} sent`,
      value: counts[stepId]?.sent ?? 0,
    });
  }
  if (document.goal) {
    const converted = Object.values(counts).reduce((sum, c) => sum + (c.converted ?? 0), 0);
    rows.push({ key: "converted", label: "Converted", value: converted });
  }
  const largest = Math.max(1, ...rows.map((row) => row.value));

  return h(
    "ol",
    { class: "funnel" },
    rows.map((row) =>
      h(
        "li",
        {
          class: `funnel__row${row.key === "converted" ? " funnel__row--goal" : ""}`,
          "data-funnel": row.key,
        },
        h("span", { class: "funnel__label" }, row.label),
        h(
          "span",
          { class: "funnel__value" },
          format.count(row.value),
          row.key !== "entered" && entered
            ? h("span", { class: "sub" }, ` ${format.percent(row.value, entered)}`)
            : null,
        ),
        h(
          "span",
          { class: "funnel__track", "aria-hidden": "true" },
          h("span", { class: "funnel__bar", style: `width:${(100 * row.value) / largest}%` }),
        ),
      ),
    ),
  );
}

function stepMessages(rows) {
  if (!rows.length) return null;
  return table({
    caption: "By step",
    rowKey: (row) => `${row.stepId}/${row.channel}/${row.status}`,
    columns: [
      { label: "Step", cell: (row) => row.stepId },
      { label: "Channel", cell: (row) => row.channel },
      { label: "Status", cell: (row) => badge(row.status) },
      { label: "Messages", numeric: true, cell: (row) => format.count(row.count) },
    ],
    rows,
  });
}
