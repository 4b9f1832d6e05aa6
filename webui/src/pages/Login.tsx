import { useState, type FormEvent } from "react";
import { errorMessage } from "../lib/api";
import { useLogin } from "../hooks/useAuth";

export default function LoginPage() {
  const login = useLogin();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  // why the last session ended (set before the sign-out, e.g. after changing your own password)
  const [note] = useState(() => {
    const n = sessionStorage.getItem("sv-signed-out-note");
    sessionStorage.removeItem("sv-signed-out-note");
    return n;
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    login.mutate({ username, password });
  };
  return (
    <div className="login-wrap">
      <form className="card login" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Σ SigmaVault</h1>
        <p className="muted">Sign in to manage this NAS.</p>
        {note && <p className="notice" role="status">{note}</p>}
        <label className="field">
          <span className="field-label">Username</span>
          <input name="username" autoComplete="username" autoFocus required value={username} onChange={(e) => setUsername(e.target.value)} />
        </label>
        <label className="field">
          <span className="field-label">Password</span>
          <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {login.error && <p className="form-error" role="alert">{errorMessage(login.error)}</p>}
        <button type="submit" className="btn primary" disabled={login.isPending}>
          {login.isPending ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
