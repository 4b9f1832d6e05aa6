import { act, renderHook, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeWebSocket, setup } from "../test/fakes";
import { useConnectionLost } from "./useWebSocket";

afterEach(() => vi.restoreAllMocks());

describe("connection lost", () => {
  it("is reported after the grace time, and the data is refetched when the stream is back", async () => {
    const { qc, wrapper } = setup();
    const refetch = vi.spyOn(qc, "invalidateQueries");
    const { result } = renderHook(() => useConnectionLost(30), { wrapper });
    await waitFor(() => expect(FakeWebSocket.instances.length).toBe(1));
    act(() => FakeWebSocket.last().open());
    expect(result.current).toBe(false);
    act(() => FakeWebSocket.last().drop());
    expect(result.current).toBe(false); // not at once: a blip is not news
    await waitFor(() => expect(result.current).toBe(true));
    await waitFor(() => expect(FakeWebSocket.instances.length).toBeGreaterThan(1));
    act(() => FakeWebSocket.last().open());
    await waitFor(() => expect(result.current).toBe(false));
    expect(refetch).toHaveBeenCalledWith({ type: "active" });
  });
});

import { liveOf, type CompressionJob } from "./useCompression";

describe("compression job figures after a refetch", () => {
  it("reads in → out from the finished job's result", () => {
    const job = { id: "j", kind: "compression.compress", state: "SUCCESS", params: {}, result: { operation: "compress", uncompressed: 1000, compressed: 250, ratio_text: "4.00x" } } as unknown as CompressionJob;
    expect(liveOf(job)).toMatchObject({ bytes_in: 1000, bytes_out: 250, ratio_text: "4.00x" });
    const back = { ...job, kind: "compression.decompress", result: { operation: "decompress", uncompressed: 1000, compressed: 250 } } as unknown as CompressionJob;
    expect(liveOf(back)).toMatchObject({ bytes_in: 250, bytes_out: 1000 });
  });
});
