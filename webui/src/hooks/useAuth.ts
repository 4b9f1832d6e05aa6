import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, get, post, setCsrfToken } from "../lib/api";
import type { Me } from "../lib/types";

export function useMe() {
  return useQuery({
    queryKey: ["auth", "me"],
    queryFn: async () => {
      try {
        const me = await get<Me>("auth/me");
        if (me.csrf_token) setCsrfToken(me.csrf_token);
        return me;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return null;
        throw e;
      }
    },
    staleTime: Infinity,
    retry: false,
  });
}

export function useLogin() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: { username: string; password: string }) =>
      post<{ user: { username: string; role: Me["role"] }; csrf_token: string }>("auth/login", body),
    onSuccess: (out) => {
      setCsrfToken(out.csrf_token);
      // keep the observed ["auth","me"] query object: clear() would orphan its observers
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== "auth" });
      qc.setQueryData<Me>(["auth", "me"], { username: out.user.username, role: out.user.role, via: "session", csrf_token: out.csrf_token });
    },
  });
}

/** Sign out, then reload at the app root: no state of the old session survives in memory. */
export function useLogout() {
  return useMutation({
    mutationFn: () => post("auth/logout"),
    onSettled: () => {
      setCsrfToken(null);
      window.location.replace(window.location.pathname);
    },
  });
}
