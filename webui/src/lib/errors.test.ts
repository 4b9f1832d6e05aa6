import { describe, expect, it } from "vitest";
import { ApiError } from "./api";
import { fieldErrors, plainError, plainMessage } from "./errors";

const invalid = (errors: { loc: string[]; msg: string; type: string }[]) =>
  new ApiError(422, "validation_error", `invalid body: ${errors[0]!.loc.slice(1).join(".")}: ${errors[0]!.msg}`, { errors });

describe("validation errors in plain words, on their fields", () => {
  it("maps loc to the field and drops the 'Value error' prefix", () => {
    const e = invalid([{ loc: ["body", "name"], msg: "Value error, use 1-64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit, without '..'", type: "value_error" }]);
    expect(fieldErrors(e).name).toMatch(/^Use 1–64 letters/);
    expect(plainError(e)).toMatch(/^Name: Use 1–64 letters/);
    expect(plainError(e)).not.toContain("invalid body");
    expect(plainError(e)).not.toContain("Value error");
  });
  it("nested fields count for their parents too", () => {
    const e = invalid([{ loc: ["body", "source", "pool"], msg: "Field required", type: "missing" }]);
    expect(fieldErrors(e)).toEqual({ "source.pool": "This is required.", source: "This is required." });
  });
  it("numbers and lengths", () => {
    expect(plainMessage("Input should be greater than or equal to 1", "greater_than_equal")).toBe("Enter a number of at least 1.");
    expect(plainMessage("String should have at most 64 characters", "string_too_long")).toBe("Use at most 64 characters.");
    expect(plainMessage("String should match pattern '^[a-z]+$'", "string_pattern_mismatch")).toBe("Use only the allowed characters.");
  });
  it("other errors become sentences", () => {
    expect(plainError(new ApiError(409, "target_exists", "docs/a exists in the volume; pass overwrite=true"))).toBe("Docs/a exists in the volume; pass overwrite=true.");
    expect(plainError(new ApiError(0, "network_error", "x"))).toMatch(/Cannot reach/);
  });
});
