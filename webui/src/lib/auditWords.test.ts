import { describe, expect, it } from "vitest";
import { describeAudit, outcomeWords } from "./auditWords";

const r = (action: string, details: Record<string, unknown> = {}, outcome = "ok") => ({ action, target: "", outcome, details });

describe("audit records in words", () => {
  it("describes route templates with their values", () => {
    expect(describeAudit(r("POST /api/v1/storage/pools"))).toBe("Created a pool");
    expect(describeAudit(r("POST /api/v1/storage/pools/{pool}/volumes", { pool: "tank" }))).toBe("Created a volume in pool tank");
    expect(describeAudit(r("DELETE /api/v1/storage/pools/{pool}/volumes/{volume}", { pool: "tank", volume: "data" }))).toBe("Deleted volume data in pool tank");
    expect(describeAudit(r("POST /api/v1/storage/pools/{pool}/volumes/{volume}/snapshots/{snapshot}/rollback", { pool: "t", volume: "v", snapshot: "s" }))).toBe("Rolled back snapshot s in volume v in pool t");
    expect(describeAudit(r("POST /api/v1/agents/{id}/task", { id: "WAVE" }))).toBe("Ran a task of WAVE");
    expect(describeAudit(r("PUT /api/v1/auth/users/{username}/password", { username: "ann" }))).toBe("Changed the password of user ann");
    expect(describeAudit(r("auth.login", {}, "error 401"))).toBe("Failed sign-in");
    expect(describeAudit(r("POST /api/v1/encryption/jobs/decrypt"))).toBe("Started decrypting files");
    expect(describeAudit(r("POST /api/v1/compression/jobs"))).toBe("Started a compression job");
  });
  it("says outcomes in words", () => {
    expect(outcomeWords("ok")).toBe("done");
    expect(outcomeWords("error 422")).toBe("refused: invalid input");
  });
});
