import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { RichText } from "./RichText";
import { human } from "./ResultView";
import { plainAgent } from "../lib/agentNames";

describe("help text and results for people", () => {
  it("renders ``code`` without the backticks", () => {
    const { container } = render(<RichText text="pass ``dry_run=false`` to erase; see :func:`resolve` and **never** undo" />);
    expect(container.textContent).toBe("pass dry_run=false to erase; see resolve and never undo");
    expect(container.querySelectorAll("code")).toHaveLength(2);
    expect(container.querySelector("b")?.textContent).toBe("never");
  });
  it("humanises sizes, durations and percentages by key", () => {
    expect(human("reclaimable_bytes", 557076011)).toBe("531.3 MiB");
    expect(human("total_size", 2048)).toBe("2.0 KiB");
    expect(human("duration_seconds", 75)).toBe("1 min 15 s");
    expect(human("files", 1234)).toBe((1234).toLocaleString());
    expect(human("fill_percent", 42.25)).toBe("42.3 %");
    expect(human("ok", true)).toBe("yes");
  });
  it("gives every bundled agent a plain name", () => {
    expect(plainAgent("WAVE").title).toBe("Duplicate finder");
    expect(plainAgent("UNKNOWN", "does x")).toEqual({ title: "UNKNOWN", purpose: "does x" });
  });
});
