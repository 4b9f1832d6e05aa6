import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Toaster } from "sonner";
import { App } from "./App";
import { raiseToasts } from "./components/ui";
import { ApiError } from "./lib/api";
import "./styles.css";

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5000,
      refetchOnWindowFocus: false,
      retry: (count, err) => !(err instanceof ApiError && err.status >= 400 && err.status < 500) && count < 2,
    },
  },
});

const root = createRoot(document.getElementById("root")!);
root.render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
      <div id="toasts" popover="manual">
        <Toaster richColors closeButton position="bottom-right" theme={(document.documentElement.dataset.theme as "light" | "dark" | undefined) ?? "system"} />
      </div>
    </QueryClientProvider>
  </StrictMode>,
);

// the toasts' popover is shown from the start (dialogs raise it above themselves)
requestAnimationFrame(() => raiseToasts());
