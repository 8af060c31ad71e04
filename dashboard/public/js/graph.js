/**
 * Draws a scenario as a graph with live counts: HTML boxes for the steps (so they wrap text and
 * read as a list to assistive technology) over an SVG layer for the edges.
 */
import { h, svg } from "./dom.js";
import * as format from "./format.js";
import { layoutGraph, NODE_HEIGHT, NODE_WIDTH, stepEdges } from "./graph-layout.js";

export { stepOrder } from "./graph-layout.js";

const TYPE_NAMES = {
  send: "Send",
  wait: "Wait",
  wait_for: "Wait for",
  branch: "Branch",
  split: "Split",
  update: "Update",
  exit: "Exit",
};

const METRIC_HELP = {
  entered: "contacts that entered the scenario here",
  executed: "times a contact reached this step",
  sent: "messages handed to the provider",
  suppressed: "messages not sent (consent, caps, missing address)",
  waiting: "times a contact started waiting here",
  then: "waits that ended because it happened",
  timeout: "waits that ran out",
  completed: "runs that completed here",
  exited: "runs that exited early at this step",
  converted: "runs that reached the goal while here",
  failed: "messages the provider refused",
};

/** The metrics worth showing on a step of this type, first the one that matters most. */
function metricsFor(step, isStart) {
  const first = isStart ? ["entered"] : ["executed"];
  switch (step.type) {
    case "send":
      return [...first, "sent", "suppressed", "failed"];
    case "wait":
      return [...first, "waiting"];
    case "wait_for":
      return [...first, "waiting", "then", "timeout"];
    case "exit":
      return [...first, "completed"];
    default:
      return first;
  }
}

function stepDetail(step) {
  switch (step.type) {
    case "send":
      return `${step.channel} · ${step.template}${step.to ? ` → ${step.to}` : ""}`;
    case "wait":
      return step.duration
        ? format.duration(step.duration)
        : `until ${step.until?.at ?? ""} ${(step.until?.days ?? []).join(" ")}`;
    case "wait_for": {
      const what = step.event
        ? `“${step.event.event}”`
        : `${step.engagement?.kind} on ${step.engagement?.step}`;
      return `${what} within ${format.duration(step.within)}`;
    }
    case "branch":
      return `${(step.cases ?? []).length} case${step.cases?.length === 1 ? "" : "s"} + else`;
    case "split":
      return (step.variants ?? []).map((variant) => variant.name).join(" / ");
    case "update":
      return [
        ...Object.entries(step.set ?? {}).map(
          ([trait, value]) => `${trait} = ${JSON.stringify(value)}`,
        ),
        ...Object.entries(step.increment ?? {}).map(([trait, by]) => `${trait} + ${by}`),
      ].join(", ");
    case "exit":
      return "end of the run";
    default:
      return "";
  }
}

/**
 * The graph of `document` with `counts[stepId][metric]` on each step. `failedByStep` adds the
 * provider failures, which are message statuses rather than step metrics.
 */
export function scenarioGraph({ document, counts, failedByStep }) {
  const layout = layoutGraph(document);
  const width = Math.ceil(layout.width);
  const height = Math.ceil(layout.height);

  const edgeLayer = svg(
    "svg",
    {
      class: "graph__edges",
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      "aria-hidden": "true",
    },
    svg(
      "defs",
      {},
      svg(
        "marker",
        {
          id: "arrow",
          viewBox: "0 0 10 10",
          refX: "8",
          refY: "5",
          markerWidth: "7",
          markerHeight: "7",
          orient: "auto-start-reverse",
        },
        svg("path", { d: "M0,0 L10,5 L0,10 z", class: "graph__arrow" }),
      ),
    ),
    layout.edges.map((edge) =>
      svg("path", {
        d: edge.path,
        class: `graph__edge${edge.kind ? ` graph__edge--${edge.kind}` : ""}${edge.back ? " graph__edge--back" : ""}`,
        "marker-end": "url(#arrow)",
      }),
    ),
  );

  const labels = layout.edges
    .filter((edge) => edge.label)
    .map((edge) =>
      h(
        "span",
        {
          class: `graph__label${edge.kind ? ` graph__label--${edge.kind}` : ""}`,
          style: `left:${edge.labelAt.x}px;top:${edge.labelAt.y}px;max-width:${edge.labelAt.maxWidth}px`,
          title: edge.label,
          "aria-hidden": "true",
        },
        edge.label,
      ),
    );

  const nodes = layout.nodes.map((node) => {
    const stepCounts = { ...(counts?.[node.id] ?? {}), failed: failedByStep?.[node.id] ?? 0 };
    const isStart = node.id === document.start;
    const shown = metricsFor(node.step, isStart).filter(
      (metric) => metric !== "failed" || stepCounts.failed > 0,
    );
    for (const extra of ["exited", "converted"]) if (stepCounts[extra] > 0) shown.push(extra);
    const exits = stepEdges(node.step)
      .map((edge) => (edge.label ? `${edge.label}: ${edge.to}` : edge.to))
      .join("; ");

    return h(
      "li",
      {
        class: `step step--${node.step.type}${node.step.channel ? ` step--${node.step.channel}` : ""}`,
        "data-step": node.id,
        style: `left:${node.x - NODE_WIDTH / 2}px;top:${node.y}px;width:${NODE_WIDTH}px;height:${NODE_HEIGHT}px`,
      },
      h(
        "p",
        { class: "step__head" },
        h(
          "span",
          { class: "step__type" },
          TYPE_NAMES[node.step.type] ?? node.step.type,
          node.step.channel ? ` ${node.step.channel}` : "",
        ),
        isStart ? h("span", { class: "step__start" }, "start") : null,
      ),
      h("h3", { class: "step__id" }, node.id),
      h("p", { class: "step__detail", title: stepDetail(node.step) }, stepDetail(node.step)),
      h(
        "dl",
        { class: "step__counts" },
        shown.map((metric) =>
          h(
            "div",
            {
              class: `metric metric--${metric}${stepCounts[metric] ? "" : " metric--zero"}`,
              "data-metric": metric,
              title: METRIC_HELP[metric],
            },
            h("dt", {}, metric),
            h("dd", {}, format.count(stepCounts[metric] ?? 0)),
          ),
        ),
      ),
      exits ? h("p", { class: "visually-hidden" }, `Next: ${exits}.`) : null,
    );
  });

  return h(
    "div",
    { class: "graph", style: `width:${width}px;height:${height}px` },
    edgeLayer,
    h("ol", { class: "graph__steps", "aria-label": "Steps" }, nodes),
    labels,
  );
}
