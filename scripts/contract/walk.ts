// A typed use of the client openapi-typescript generates from openapi.yaml
// (scripts/contract.sh compiles it with tsc --noEmit --strict): a front end
// walks the tree it fetched, grandchildren and deeper included, without casts.
import type { components, paths } from "./canopy";

type TreeNode = components["schemas"]["TreeNode"];
type Forest = paths["/api/v1/categories/tree"]["get"]["responses"][200]["content"]["application/json"];

export function names(forest: Forest): string[] {
  const out: string[] = [];
  const walk = (n: TreeNode, depth: number): void => {
    out.push(`${"  ".repeat(depth)}${n.name} (${n.kind}, ${n.child_count} children, path ${n.path.join("/")})`);
    n.children.forEach((c) => walk(c, depth + 1));
  };
  forest.roots.forEach((r) => walk(r, 0));
  return out;
}

// The grandchildren's fields are typed: a number id, a kind from the enum.
export function firstGrandchild(forest: Forest): { id: number; kind: "category" | "department" | "ward" } | undefined {
  const g = forest.roots[0]?.children[0]?.children[0];
  return g && { id: g.id, kind: g.kind };
}

// A department create needs its code; a category create has none to give.
type NewDepartment = paths["/api/v1/departments"]["post"]["requestBody"]["content"]["application/json"];
type NewCategory = paths["/api/v1/categories"]["post"]["requestBody"]["content"]["application/json"];
export const department: NewDepartment = { name: "Cardiology", code: "CARD" };
export const category: NewCategory = { name: "Books" };
// @ts-expect-error: a category has no code
export const badCategory: NewCategory = { name: "Books", code: "B" };

// An alarm, as GET /alarms lists it and the alarm stream's events carry it:
// its nullable fields must be checked before use, its state is one of three.
type Alarm = components["schemas"]["Alarm"];
export function alarmLine(a: Alarm): string {
  const seen = a.acknowledged_by === null ? "" : `, seen by ${a.acknowledged_by}`;
  const why = a.resolved_reason === null ? "" : ` (${a.resolved_reason})`;
  return `${a.patient_uid} ${a.target} ${Math.round(a.probability * 100)}% ${a.state}${why}${seen}`;
}
// @ts-expect-error: an alarm is open, acknowledged or resolved, never snoozed
export const snoozed: Alarm["state"] = "snoozed";
