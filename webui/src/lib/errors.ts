/** API errors in plain language, and 422 validation errors mapped onto form fields. */
import { ApiError } from "./api";

export const NAME_RULE = "1–64 letters, digits, “_”, “.”, “:” or “-”, starting with a letter or digit";

const TYPES: Record<string, string> = {
  missing: "This is required.",
  string_too_short: "This is too short.",
  string_too_long: "This is too long.",
  int_parsing: "Enter a whole number.",
  int_from_float: "Enter a whole number.",
  float_parsing: "Enter a number.",
  bool_parsing: "Choose yes or no.",
  extra_forbidden: "This setting is not accepted here.",
  string_pattern_mismatch: "Use only the allowed characters.",
  greater_than_equal: "This number is too small.",
  greater_than: "This number is too small.",
  less_than_equal: "This number is too large.",
  less_than: "This number is too large.",
  literal_error: "Choose one of the offered values.",
  enum: "Choose one of the offered values.",
};

function sentence(s: string): string {
  const t = s.trim();
  if (!t) return t;
  const c = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(c) ? c : `${c}.`;
}

/** One pydantic error as a sentence a person can act on. */
export function plainMessage(msg: string, type?: string): string {
  let m = msg.replace(/^(Value|Assertion) error, /, "");
  const bound = m.match(/^(?:Input|Value) should be (greater|less) than( or equal to)? (-?[\d.]+)/);
  if (bound) {
    const [, dir, eq, n] = bound;
    return dir === "greater" ? (eq ? `Enter a number of at least ${n}.` : `Enter a number above ${n}.`) : (eq ? `Enter a number of at most ${n}.` : `Enter a number below ${n}.`);
  }
  const len = m.match(/^String should have at (least|most) (\d+) characters?/);
  if (len) return len[1] === "least" ? (len[2] === "1" ? "This is required." : `Use at least ${len[2]} characters.`) : `Use at most ${len[2]} characters.`;
  if (m.startsWith("use 1-64 letters")) return sentence(`Use ${NAME_RULE}, without “..”`);
  if (type && TYPES[type] && (type !== "string_pattern_mismatch" || !m)) return TYPES[type];
  if (type === "string_pattern_mismatch") return TYPES[type]!;
  m = m.replace(/^Input should be /, "Should be ").replace(/^Field required$/, "This is required");
  return sentence(m);
}

export interface FieldProblem { field: string; message: string }

/** The fields a 422 (or a 400 naming a field) is about: "name", "topology.layout", … */
export function fieldProblems(e: unknown): FieldProblem[] {
  if (!(e instanceof ApiError)) return [];
  const errors = e.details.errors as { loc?: (string | number)[]; msg?: string; type?: string }[] | undefined;
  if (Array.isArray(errors)) {
    return errors.map((x) => ({
      field: (x.loc ?? []).slice(1).map(String).filter((p) => !/^function-/.test(p)).join("."),
      message: plainMessage(x.msg ?? "", x.type),
    }));
  }
  const field = e.details.field;
  if (typeof field === "string") return [{ field, message: plainMessage(e.message) }];
  return [];
}

/** Field → message, for forms: `errs["name"]`. A field's own errors also count for its parent. */
export function fieldErrors(e: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of fieldProblems(e)) {
    const parts = p.field.split(".");
    for (let i = parts.length; i >= 1; i--) {
      const k = parts.slice(0, i).join(".");
      if (!(k in out)) out[k] = p.message;
    }
  }
  return out;
}

const LABEL = (f: string) => f.split(".").filter((p) => !/^\d+$/.test(p)).pop()?.replace(/_/g, " ") ?? f;

/** The whole error as one plain sentence (for toasts): "Name: Use 1–64 letters …". */
export function plainError(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 422 || e.code === "validation_error") {
      const ps = fieldProblems(e);
      if (ps.length) return ps.map((p) => (p.field ? `${sentence(LABEL(p.field)).replace(/\.$/, "")}: ${p.message}` : p.message)).join(" ");
    }
    if (e.code === "invalid_name" && e.message.includes("use 1-64")) {
      const what = String(e.details.field ?? "name");
      return `${sentence(what).replace(/\.$/, "")}: ${plainMessage("use 1-64 letters")}`;
    }
    if (e.status === 0) return "Cannot reach the SigmaVault daemon. Check that it is running and the network is up.";
    return sentence(e.message);
  }
  if (e instanceof Error) return e.message;
  return String(e);
}
