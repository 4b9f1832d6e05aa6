import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// Relative base: the UI works at "/" and under any sub-path behind a reverse proxy.
export default defineConfig({
  base: "./",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 400, manifest: true },
  server: { proxy: { "/api": { target: process.env.SV_API ?? "http://127.0.0.1:12080", ws: true } } },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"] },
});
