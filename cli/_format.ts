// Plain-text tables and the JSON shape of listed objects.
import { type IpcObjectInfo, objectRef } from "./_objects.ts";
import { formatBytes } from "./_doctor.ts";

/**
 * Columns padded to their widest cell; the last column is not padded (it
 * may be long).
 */
export function table(header: readonly string[], rows: string[][]): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))
  );
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))
      .join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** `45s`, `12m`, `3h`, `2d`. */
export function formatAge(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** `0600`. */
export function formatMode(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}

/** The listing as a table. */
export function objectTable(
  objects: readonly IpcObjectInfo[],
  now: number,
): string {
  return table(
    ["KIND", "NAME", "ID", "SIZE", "MODE", "OWNER", "AGE", "DETAIL"],
    objects.map((o) => [
      o.kind,
      o.name,
      o.id === undefined ? "" : String(o.id),
      o.size === undefined ? "-" : formatBytes(o.size),
      formatMode(o.mode),
      o.owner,
      formatAge(now - o.created),
      o.detail,
    ]),
  );
}

/** One object as `--json` prints it. */
export interface ObjectJson {
  kind: string;
  /** `kind:name` or `kind:id`: what `ipckit rm` takes. */
  ref: string;
  name: string;
  id: number | null;
  key: string | null;
  size: number | null;
  mode: string;
  uid: number;
  owner: string;
  created: string;
  ageSeconds: number;
  modified: string | null;
  detail: string;
}

/** The JSON form of an object. */
export function objectJson(o: IpcObjectInfo, now: number): ObjectJson {
  const iso = (t: number) => new Date(t * 1000).toISOString();
  return {
    kind: o.kind,
    ref: objectRef(o),
    name: o.name,
    id: o.id ?? null,
    key: o.key === undefined
      ? null
      : `0x${(o.key >>> 0).toString(16).padStart(8, "0")}`,
    size: o.size ?? null,
    mode: formatMode(o.mode),
    uid: o.uid,
    owner: o.owner,
    created: iso(o.created),
    ageSeconds: Math.max(0, Math.floor(now - o.created)),
    modified: o.modified === undefined ? null : iso(o.modified),
    detail: o.detail,
  };
}
