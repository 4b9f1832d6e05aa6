/** Audit records in words: "POST /api/v1/storage/pools/{pool}/volumes" + {pool: "tank"} →
 * "Created a volume in pool tank". */

export interface AuditLike { action: string; target: string; outcome: string; details: Record<string, unknown> }

const NOUN: Record<string, string> = {
  pool: "pool", volume: "volume", snapshot: "snapshot", disk: "disk", id: "", name: "", agent: "agent",
  username: "user", key_id: "key", job_id: "job", peer: "peer", share: "share", codec: "codec",
};
const PLURAL: Record<string, string> = {
  pools: "pool", volumes: "volume", snapshots: "snapshot", disks: "disk", keys: "key", users: "user",
  jobs: "job", peers: "peer", invites: "invite", shares: "share", identities: "identity", tasks: "task",
  schedules: "schedule", webhooks: "webhook", accounts: "account", files: "file",
};
const SPECIAL: Record<string, string> = {
  rollback: "Rolled back", restore: "Restored files from", scrub: "Started a scrub of", lock: "Locked",
  unlock: "Unlocked", task: "Ran a task of", export: "Exported", import: "Imported", clone: "Cloned",
  password: "Changed the password of", cancel: "Cancelled", logout: "Signed out", test: "Started a self-test of",
  up: "Brought up", down: "Took down", encrypt: "Started encrypting", decrypt: "Started decrypting", verify: "Verified",
  run: "Ran", rotate: "Rotated",
};
const WORDS: Record<string, string> = {
  "auth.login": "Signed in",
  "auth.user.create": "Created a user (command line)",
  "auth.user.passwd": "Set a password (command line)",
  "auth.key.create": "Created an API key (command line)",
  "audit.refusals_over_limit": "Many refused requests (summarised)",
};

const singular = (s: string | undefined) => (s ? PLURAL[s] ?? s.replace(/-/g, " ") : "item");

function named(param: string, value: unknown): string {
  const n = NOUN[param] ?? param.replace(/_/g, " ");
  return `${n ? `${n} ` : ""}${String(value ?? "?")}`;
}

export function describeAudit(r: AuditLike): string {
  if (WORDS[r.action]) return r.action === "auth.login" && r.outcome !== "ok" ? "Failed sign-in" : WORDS[r.action]!;
  const m = r.action.match(/^(POST|PUT|PATCH|DELETE|GET) (\S+)$/);
  if (!m) return r.action.replace(/[._]/g, " ");
  const [, method, template] = m;
  const segs = template!.replace(/^\/api\/v1/, "").split("/").filter(Boolean);
  if (segs[0] === "auth" && segs[1] === "login") return r.outcome === "ok" ? "Signed in" : "Failed sign-in";
  if (segs[0] === "auth" && segs[1] === "logout") return "Signed out";
  const params = segs.filter((s) => s.startsWith("{")).map((s) => s.slice(1, -1));
  const statics = segs.filter((s) => !s.startsWith("{"));
  const endsWithParam = segs[segs.length - 1]!.startsWith("{");
  const values = params.map((p) => [p, r.details[p]] as const);
  const last = statics[statics.length - 1];
  if (!endsWithParam && (last === "encrypt" || last === "decrypt") && method === "POST") return `Started ${last}ing files`;
  if (!endsWithParam && last === "jobs" && method === "POST") return `Started a ${statics[0] ?? ""} job`.replace("  ", " ");
  if (!endsWithParam && last && SPECIAL[last] && method !== "DELETE") {
    const obj = values.length ? values.map(([p, v]) => named(p, v)).reverse().join(" in ") : singular(statics[statics.length - 2]);
    return `${SPECIAL[last]} ${obj}`;
  }
  if (endsWithParam) {
    const [objP, objV] = values[values.length - 1]!;
    const context = values.slice(0, -1).map(([p, v]) => named(p, v)).reverse().join(" in ");
    const kind = singular(statics[statics.length - 1]);
    const verb = method === "DELETE" ? "Deleted" : "Changed";
    return `${verb} ${NOUN[objP] === "" || objP === "id" || objP === "name" ? kind : named(objP, "").trim() || kind} ${String(objV ?? "?")}${context ? ` in ${context}` : ""}`;
  }
  const context = values.map(([p, v]) => named(p, v)).reverse().join(" in ");
  const verb = method === "DELETE" ? "Deleted" : method === "POST" ? "Created" : "Changed";
  const thing = singular(last);
  return `${verb} ${/^[aeiou]/.test(thing) ? "an" : "a"} ${thing}${context ? ` in ${context}` : ""}`;
}

const STATUS: Record<string, string> = {
  "400": "refused: bad request", "401": "refused: not signed in", "403": "refused: not allowed",
  "404": "failed: not found", "409": "refused: conflicts with the current state", "422": "refused: invalid input",
  "429": "refused: too many attempts", "500": "failed: server error", "501": "failed: not available here",
  "503": "failed: unavailable",
};

export function outcomeWords(outcome: string): string {
  if (outcome === "ok") return "done";
  const code = outcome.match(/(\d{3})/)?.[1];
  return (code && STATUS[code]) ?? outcome;
}

/** The areas the filter offers, as the server's action patterns (`*` is any text). */
export const AUDIT_AREAS: [string, string][] = [
  ["", "everything"],
  ["*/storage/*", "storage (pools, volumes, snapshots, disks)"],
  ["*auth*", "users, sign-ins and API keys"],
  ["*/agents/*", "agents"],
  ["*/compression/*", "compression"],
  ["*/encryption/*", "encryption"],
  ["*/network/*", "network and mesh"],
  ["*/shares*", "shares"],
  ["*/system/*", "system"],
];
