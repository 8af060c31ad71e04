/**
 * Lays a scenario's steps out as a top-down layered graph: a step's rank is its longest distance
 * from `start`, an edge that skips ranks runs through placeholder slots so it never crosses a
 * box, and each rank is ordered by where its parents sit. Loops go around the right side.
 */
import * as format from "./format.js";

export const NODE_WIDTH = 216;
export const NODE_HEIGHT = 100;
const RANK_GAP = 60;
const COLUMN_GAP = 28;
const LANE_WIDTH = 18;
const PADDING = 20;
const LOOP_OFFSET = 48;
const LABEL_MAX_WIDTH = 220;
const LABEL_CHAR_WIDTH = 6.4;
const LABEL_SPACING = 6;
const LABEL_ROWS = [0.3, 0.72];

/** The outgoing edges of one step, in the order the document lists them. */
export function stepEdges(step) {
  switch (step.type) {
    case "send":
    case "wait":
    case "update":
      return step.next ? [{ to: step.next, label: "" }] : [];
    case "wait_for": {
      const matched = step.event
        ? `“${step.event.event}”`
        : `${step.engagement?.kind ?? "engaged"}`;
      return [
        { to: step.then, label: matched, kind: "then" },
        { to: step.timeout, label: `timeout ${format.duration(step.within)}`, kind: "timeout" },
      ];
    }
    case "branch":
      return [
        ...(step.cases ?? []).map((branchCase) => ({
          to: branchCase.next,
          label: `if ${format.condition(branchCase.if)}`,
        })),
        { to: step.else, label: "else" },
      ];
    case "split": {
      const totalWeight = (step.variants ?? []).reduce((sum, v) => sum + (v.weight ?? 0), 0);
      return (step.variants ?? []).map((variant) => ({
        to: variant.next,
        label: `${variant.name} · ${format.percent(variant.weight ?? 0, totalWeight)}`,
      }));
    }
    default:
      return [];
  }
}

/** Step ids reachable from `start`, in reading order (depth first, then/if before timeout/else). */
export function stepOrder(document) {
  return layoutGraph(document).order;
}

/** Positions for every step and the polyline of every edge. */
export function layoutGraph(document) {
  const steps = document.steps ?? {};
  const ids = Object.keys(steps);
  const edges = ids.flatMap((from) =>
    stepEdges(steps[from])
      .filter((edge) => edge.to in steps)
      .map((edge, index, all) => ({ ...edge, from, index, siblings: all.length, back: false })),
  );
  const outgoing = new Map(ids.map((id) => [id, edges.filter((edge) => edge.from === id)]));

  const order = [];
  const postOrder = [];
  const state = new Map();
  const visit = (id) => {
    state.set(id, "open");
    order.push(id);
    for (const edge of outgoing.get(id)) {
      if (state.get(edge.to) === "open") edge.back = true;
      else if (!state.has(edge.to)) visit(edge.to);
    }
    state.set(id, "done");
    postOrder.push(id);
  };
  for (const id of [document.start, ...ids]) if (id in steps && !state.has(id)) visit(id);

  const rank = new Map(ids.map((id) => [id, 0]));
  for (const id of postOrder.reverse()) {
    for (const edge of outgoing.get(id)) {
      if (!edge.back) rank.set(edge.to, Math.max(rank.get(edge.to), rank.get(id) + 1));
    }
  }

  const slots = new Map(order.map((id) => [id, slot(id, NODE_WIDTH, rank.get(id))]));
  const lanes = [];
  for (const edge of edges.filter((e) => !e.back)) {
    const offset = (edge.index - (edge.siblings - 1) / 2) * (NODE_WIDTH + COLUMN_GAP);
    let parent = slots.get(edge.from);
    let parentOffset = offset;
    edge.via = [];
    for (let r = rank.get(edge.from) + 1; r < rank.get(edge.to); r++) {
      const lane = slot(`${edge.from}>${edge.to}#${r}`, LANE_WIDTH, r);
      lane.links.push({ parent, offset: parentOffset });
      lanes.push(lane);
      edge.via.push(lane);
      parent = lane;
      parentOffset = 0;
    }
    slots.get(edge.to).links.push({ parent, offset: parentOffset });
  }

  const all = [...slots.values(), ...lanes];
  const rankCount = Math.max(0, ...all.map((s) => s.rank)) + 1;
  for (let r = 0; r < rankCount; r++) placeRank(all.filter((s) => s.rank === r));

  const minX = Math.min(...all.map((s) => s.x - s.width / 2));
  for (const s of all) {
    s.x += PADDING - minX;
    s.y = PADDING + s.rank * (NODE_HEIGHT + RANK_GAP);
  }
  const maxX = Math.max(...all.map((s) => s.x + s.width / 2));
  placeLabels(edges, slots);
  const hasLoops = edges.some((edge) => edge.back);

  return {
    order,
    nodes: order.map((id) => ({ id, step: steps[id], ...slots.get(id) })),
    edges: edges.map((edge) => ({
      ...edge,
      path: edgePath(edge, slots),
    })),
    width: maxX + PADDING + (hasLoops ? LOOP_OFFSET + 24 : 0),
    height: PADDING * 2 + rankCount * NODE_HEIGHT + (rankCount - 1) * RANK_GAP,
  };
}

function slot(id, width, rank) {
  return { id, width, rank, links: [], x: 0, y: 0 };
}

/** Orders one rank by where its parents want it, then spreads it so nothing overlaps. */
function placeRank(rankSlots) {
  rankSlots.forEach((s, index) => {
    s.desired = s.links.length
      ? s.links.reduce((sum, link) => sum + link.parent.x + link.offset, 0) / s.links.length
      : index * (NODE_WIDTH + COLUMN_GAP);
  });
  rankSlots.sort((a, b) => a.desired - b.desired);

  let previous = null;
  for (const s of rankSlots) {
    s.x = previous
      ? Math.max(s.desired, previous.x + (previous.width + s.width) / 2 + COLUMN_GAP)
      : s.desired;
    previous = s;
  }
  const drift = rankSlots.reduce((sum, s) => sum + s.x - s.desired, 0) / (rankSlots.length || 1);
  for (const s of rankSlots) s.x -= drift;
}

function edgePath(edge, slots) {
  const from = slots.get(edge.from);
  const to = slots.get(edge.to);
  if (edge.back) {
    const startX = from.x + NODE_WIDTH / 2;
    const endX = to.x + NODE_WIDTH / 2;
    const outX = Math.max(startX, endX) + LOOP_OFFSET;
    const startY = from.y + NODE_HEIGHT / 2;
    const endY = to.y + NODE_HEIGHT / 2;
    return `M${startX},${startY} C${outX},${startY} ${outX},${endY} ${endX + 6},${endY}`;
  }
  const spread = (edge.index - (edge.siblings - 1) / 2) * 24;
  const points = [{ x: from.x + spread, y: from.y + NODE_HEIGHT }];
  for (const lane of edge.via) {
    points.push({ x: lane.x, y: lane.y }, { x: lane.x, y: lane.y + NODE_HEIGHT });
  }
  points.push({ x: to.x, y: to.y - 6 });

  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (a.x === b.x && i % 2 === 0) {
      d += ` L${b.x},${b.y}`;
    } else {
      const midY = (a.y + b.y) / 2;
      d += ` C${a.x},${midY} ${b.x},${midY} ${b.x},${b.y}`;
    }
  }
  return d;
}

/** Where a label sits on an edge leaving its source, `fraction` of the way down the gap. */
function labelPoint(edge, slots, fraction) {
  const from = slots.get(edge.from);
  if (edge.back) return { x: from.x + NODE_WIDTH / 2 + LOOP_OFFSET / 2, y: from.y + 12 };
  const target = edge.via[0] ?? slots.get(edge.to);
  const startX = from.x + (edge.index - (edge.siblings - 1) / 2) * 24;
  return {
    x: startX + (target.x - startX) * fraction,
    y: from.y + NODE_HEIGHT + RANK_GAP * fraction,
  };
}

/**
 * Places the labels of the edges leaving one step on two rows when they would touch on one, and
 * narrows a label (ellipsis, full text in its tooltip) only when neither row has room.
 */
function placeLabels(edges, slots) {
  const bySource = Map.groupBy(
    edges.filter((edge) => edge.label),
    (edge) => edge.from,
  );
  for (const group of bySource.values()) {
    const rowRight = [-Infinity, -Infinity];
    const sorted = group
      .map((edge) => ({ edge, x: labelPoint(edge, slots, 0.5).x }))
      .sort((a, b) => a.x - b.x);
    for (const { edge } of sorted) {
      const width = Math.min(LABEL_MAX_WIDTH, edge.label.length * LABEL_CHAR_WIDTH + 18);
      const rows = [0, 1].map((row) => {
        const at = labelPoint(edge, slots, group.length === 1 ? 0.5 : LABEL_ROWS[row]);
        return { row, at, room: at.x - rowRight[row] - LABEL_SPACING };
      });
      const fits = rows.find((row) => row.room >= width / 2);
      const chosen = fits ?? rows.reduce((best, row) => (row.room > best.room ? row : best));
      const maxWidth = fits ? LABEL_MAX_WIDTH : Math.max(48, 2 * chosen.room);
      edge.labelAt = { ...chosen.at, maxWidth };
      rowRight[chosen.row] = chosen.at.x + Math.min(width, maxWidth) / 2;
    }
  }
}
